package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// The attempt journal closes the gap the outbox alone leaves: a call the
// platform received, or even answered, just before a crash, whose outcome
// the outbox had not committed yet. Without it the next start would make
// that call again; chat platforms have no idempotency key to make that
// harmless. See doc.go, "The attempt journal", for the guarantee.
//
// It is a small append-only text file beside the database (JournalPath),
// one line per step of an attempt:
//
//	W <id>           the request of entry id's call was written to the platform
//	R <id> <result>  the platform accepted it and answered result (quoted)
//	E <id>           the attempt failed; the call will be tried again
//
// Lines are appended with one write(2) each and never fsynced: a process
// crash (SIGKILL included) keeps everything written, only an OS crash or
// power loss can lose the tail. Only the last line of an entry counts, and
// only while the outbox still has the entry pending.

// InDoubt is the LastError of an entry the journal marked sent at Open
// because its request had been written to the platform when the hub died,
// with no answer recorded: the platform most likely made the call, so it
// is not made again, but its result (the new message id) is unknown.
const InDoubt = "in doubt: written before a crash"

// journalSuffix names the journal after the database file.
const journalSuffix = "-calls"

// compactAt is the size past which the journal is rewritten with only the
// lines still needed: those of entries whose outcome is not committed.
const compactAt = 256 << 10

// errJournalBusy refuses appends while another process appends to the
// journal, i.e. sends calls from the same database.
var errJournalBusy = errors.New("store: the attempt journal is held by another process using this database")

// JournalPath is the attempt journal of the database at path.
func JournalPath(path string) string { return path + journalSuffix }

// OutboxWritten records that the request of entry id's call has been
// written to the platform in full: if the hub dies before the answer is
// recorded, the next Open marks the entry sent (InDoubt) rather than let
// it be made again. It returns once the line is appended (no fsync).
func (db *DB) OutboxWritten(id int64) error { return db.calls.append(id, 'W', "") }

// OutboxWrite makes the write that completes entry id's request — p, on
// the connection conn — and appends the entry's W line right after it, as
// two raw write(2)s with nothing in between: no allocation, lock or entry
// into Go's scheduler that could pause the process there, since a crash
// between them is the one way left to make a call twice. n and err are the
// connection write's; journalErr says why the line could not be appended
// (p is written anyway). Where raw writes are not available it writes
// nothing and returns errors.ErrUnsupported: write p, then call
// OutboxWritten.
func (db *DB) OutboxWrite(id int64, conn syscall.RawConn, p []byte) (n int, err, journalErr error) {
	if !rawWrites {
		return 0, errors.ErrUnsupported, nil
	}
	line := "W " + strconv.FormatInt(id, 10) + "\n"
	used := false
	journalErr = db.calls.use(func(f *os.File) error {
		used = true
		var jerr error
		n, err, jerr = writeThenAppend(conn, p, f, []byte(line))
		if err == nil && jerr == nil {
			db.calls.appended(id, line, true)
		}
		return jerr
	})
	if !used { // no journal: the call goes all the same
		n, err, _ = writeThenAppend(conn, p, nil, nil)
	}
	db.calls.maybeCompact()
	if journalErr != nil {
		journalErr = fmt.Errorf("store: journal W %d: %w", id, journalErr)
	}
	return n, err, journalErr
}

// OutboxAnswered records that the platform accepted entry id's call and
// answered result, before OutboxDone commits it: if the hub dies in
// between, the next Open marks the entry sent with that result.
func (db *DB) OutboxAnswered(id int64, result string) error {
	return db.calls.append(id, 'R', result)
}

// OutboxErrored records that an attempt at entry id's call failed (the
// platform refused it, or the connection broke): a crash now leaves the
// entry pending, to be tried again.
func (db *DB) OutboxErrored(id int64) error { return db.calls.append(id, 'E', "") }

// journal appends a process's journal lines. It opens and locks the file at
// the first append and keeps it: the lock tells other processes opening the
// database (a CLI command, a worker) that the journal is live, so they
// leave it alone instead of replaying it.
//
// Appenders do not wait for each other: a line is one write(2) on an
// O_APPEND file, which the kernel keeps whole, and mu is only taken for
// writing to replace or close the file — never waited for by a compaction,
// which gives up when appenders hold it.
type journal struct {
	path  string
	size  atomic.Int64
	limit atomic.Int64 // compact past this size

	mu  sync.RWMutex
	f   *os.File
	err error // set by close: appends fail

	liveMu sync.Mutex
	live   map[int64]string // each entry's last line, until its outcome is committed
}

func newJournal(path string) *journal {
	j := &journal{path: path, live: make(map[int64]string)}
	j.limit.Store(compactAt)
	return j
}

func (j *journal) append(id int64, kind byte, result string) error {
	line := string(kind) + " " + strconv.FormatInt(id, 10)
	if kind == 'R' {
		line += " " + strconv.Quote(result)
	}
	line += "\n"
	err := j.use(func(f *os.File) error {
		n, err := appendLine(f, line)
		if err == nil && n < len(line) {
			err = io.ErrShortWrite
		}
		if err == nil {
			j.appended(id, line, kind != 'E') // an E line counts as none: the entry stays pending
		}
		return err
	})
	j.maybeCompact()
	if err != nil {
		return fmt.Errorf("store: journal %c %d: %w", kind, id, err)
	}
	return nil
}

// use runs fn with the journal's file, opening it at the first use, and
// with mu held for reading so the file is not replaced meanwhile.
func (j *journal) use(fn func(f *os.File) error) error {
	j.mu.RLock()
	defer j.mu.RUnlock()
	for j.f == nil && j.err == nil {
		j.mu.RUnlock()
		err := j.open()
		j.mu.RLock()
		if err != nil {
			return err
		}
	}
	if j.err != nil {
		return j.err
	}
	return fn(j.f)
}

// open opens and locks the file. Failing to lock it is not final: another
// process may hold it only a moment, to replay it as it opens the
// database, so the next append tries again.
func (j *journal) open() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil || j.err != nil {
		return nil
	}
	f, err := openLocked(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		return err
	}
	j.f = f
	return nil
}

// appended counts an appended line and keeps it as id's live line (or
// forgets id's). Callers hold mu for reading, so a compaction cannot copy
// the map between the append and this.
func (j *journal) appended(id int64, line string, live bool) {
	j.size.Add(int64(len(line)))
	j.track(id, line, live)
}

func (j *journal) track(id int64, line string, live bool) {
	j.liveMu.Lock()
	defer j.liveMu.Unlock()
	if live {
		j.live[id] = line
	} else {
		delete(j.live, id)
	}
}

// settle forgets an entry once the outbox has committed its outcome: its
// lines are no longer needed.
func (j *journal) settle(id int64) { j.track(id, "", false) }

// maybeCompact replaces the journal with one holding only the live lines,
// once it has grown past its limit: a new file, locked, renamed over the
// old one, so that a crash at any point leaves a complete journal. It does
// not wait for appenders (a later append tries again); a failure is
// retried once the file has grown by compactAt again.
func (j *journal) maybeCompact() {
	if j.size.Load() <= j.limit.Load() || !j.mu.TryLock() {
		return
	}
	defer j.mu.Unlock()
	if j.f == nil || j.size.Load() <= j.limit.Load() {
		return // closed, or compacted meanwhile
	}
	j.limit.Store(j.size.Load() + compactAt)
	tmp := j.path + ".tmp"
	f, err := openLocked(tmp, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return
	}
	var buf strings.Builder
	j.liveMu.Lock()
	for _, line := range j.live {
		buf.WriteString(line)
	}
	j.liveMu.Unlock()
	if _, err := f.WriteString(buf.String()); err != nil || os.Rename(tmp, j.path) != nil {
		f.Close()
		os.Remove(tmp)
		return
	}
	j.f.Close()
	j.f = f
	j.size.Store(int64(buf.Len()))
	j.limit.Store(int64(buf.Len()) + compactAt)
}

func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if j.f != nil {
		err = j.f.Close()
	}
	j.f, j.err = nil, ErrClosed
	return err
}

// openLocked opens a journal file and takes its lock, failing with
// errJournalBusy if another process holds it.
func openLocked(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, err
	}
	ok, err := tryLock(f)
	if err == nil && !ok {
		err = errJournalBusy
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// replayJournal applies what a previous process's journal says to the
// outbox entries it left pending, then empties the journal. It does
// nothing while another process holds the journal: that process is alive
// and its calls are in flight.
func replayJournal(ctx context.Context, conn *sql.Conn, path string, now int64) error {
	f, err := openLocked(path, os.O_RDWR)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errJournalBusy) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close() // releases the lock
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	if err := applyJournal(ctx, conn, parseJournal(data), now); err != nil {
		return err
	}
	return f.Truncate(0)
}

// journalLine is an entry's last line.
type journalLine struct {
	kind   byte
	result string
}

// parseJournal returns the last line of each entry. Lines it cannot read
// (only an OS crash can tear one) are skipped.
func parseJournal(data []byte) map[int64]journalLine {
	last := make(map[int64]journalLine)
	for line := range bytes.Lines(data) {
		text, ok := strings.CutSuffix(string(line), "\n")
		if !ok || len(text) < 3 || text[1] != ' ' {
			continue
		}
		idText, result, hasResult := strings.Cut(text[2:], " ")
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			continue
		}
		l := journalLine{kind: text[0]}
		switch {
		case l.kind == 'R' && hasResult:
			if l.result, err = strconv.Unquote(result); err != nil {
				continue
			}
		case (l.kind == 'W' || l.kind == 'E') && !hasResult:
		default:
			continue
		}
		last[id] = l
	}
	return last
}

// applyJournal marks sent, in one transaction, the pending entries whose
// last line is W (in doubt) or R (with the answer); E leaves them pending.
func applyJournal(ctx context.Context, conn *sql.Conn, last map[int64]journalLine, now int64) error {
	if len(last) == 0 {
		return nil
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for id, l := range last {
		note := ""
		switch l.kind {
		case 'E':
			continue
		case 'W':
			note = InDoubt
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE outbox SET sent_at = ?, result = ?, last_error = ?, attempts = attempts + 1
			 WHERE id = ? AND sent_at IS NULL AND failed = 0`, now, l.result, note, id); err != nil {
			return err
		}
	}
	return tx.Commit()
}
