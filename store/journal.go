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
	"time"

	"github.com/hubhq/hub/internal/witness"
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
//	I <id> <conn> <end>  the request of entry id's call is complete once
//	                     connection conn has carried end bytes (see Wire)
//	W <id>               the request was written to the platform
//	R <id> <result>      the platform accepted it and answered result (quoted)
//	E <id>               the attempt failed; the call will be tried again
//	C <conn> <n>         connection conn had carried n bytes when the hub
//	                     died: the witness's line (package internal/witness)
//
// Lines are appended with one write(2) each and never fsynced: a process
// crash (SIGKILL included) keeps everything written, only an OS crash or
// power loss can lose the tail. Only the last line of an entry counts, and
// only while the outbox still has the entry pending.

// InDoubt is the LastError of an entry the journal marked sent at Open
// because its request had been written to the platform when the hub died,
// with no answer recorded: the platform made the call, so it is not made
// again, but its result (the new message id) is unknown.
const InDoubt = "in doubt: written before a crash"

// witnessWait bounds how long Open waits for a dead hub's witness to
// append its lines (it takes microseconds once the hub is gone).
const witnessWait = 10 * time.Second

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

// Wire is a connection the outbox makes journaled requests on. Where a
// witness can run (package internal/witness), it holds a copy of the
// connection's socket, so that a crash between a request's last write and
// its W line is settled by the kernel's count of what the hub had written,
// not by a guess: OutboxWrite notes first how many bytes complete the
// request (I), and the next Open compares that with the witness's count.
type Wire struct {
	conn syscall.RawConn
	wit  *witness.Witness // nil without one
	key  string           // the witness's name for the socket
}

// Wire prepares conn for journaled requests. The error says why no witness
// holds its socket: the Wire works all the same, without that guarantee.
// Close it when conn closes, so that the witness lets go of the socket.
func (db *DB) Wire(conn syscall.RawConn) (*Wire, error) {
	w := &Wire{conn: conn}
	wit, err := db.calls.witness()
	if err == nil {
		if w.key, err = wit.Keep(conn); err == nil {
			w.wit = wit
		}
	}
	return w, err
}

// Close tells the witness to let go of the connection's socket.
func (w *Wire) Close() error {
	if w.wit == nil {
		return nil
	}
	return w.wit.Drop(w.key)
}

// OutboxWrite makes the write that completes entry id's request — p, on
// the connection w — with the entry's I line before it (when a witness
// holds w) and its W line right after it, the write and W as two raw
// write(2)s with nothing in between: no allocation, lock or entry into
// Go's scheduler that could pause the process there. n and err are the
// connection write's; journalErr says why a line could not be appended (p
// is written anyway). Where raw writes are not available it writes
// nothing and returns errors.ErrUnsupported: write p, then call
// OutboxWritten.
func (db *DB) OutboxWrite(id int64, w *Wire, p []byte) (n int, err, journalErr error) {
	if !rawWrites {
		return 0, errors.ErrUnsupported, nil
	}
	idText := strconv.FormatInt(id, 10)
	intent, intentErr := w.intent(idText, len(p))
	line := "W " + idText + "\n"
	used := false
	journalErr = db.calls.use(func(f *os.File) error {
		used = true
		var ierr error
		if intent != "" { // without it, W alone: the witness cannot help
			m, err := appendLine(f, intent)
			if err == nil && m < len(intent) {
				err = io.ErrShortWrite
			}
			if ierr = err; err == nil {
				db.calls.appended(id, intent, true)
			}
		}
		var jerr error
		n, err, jerr = writeThenAppend(w.conn, p, f, []byte(line))
		if err == nil && jerr == nil {
			db.calls.appended(id, line, true)
		}
		return errors.Join(ierr, jerr)
	})
	if !used { // no journal: the call goes all the same
		n, err, _ = writeThenAppend(w.conn, p, nil, nil)
	}
	db.calls.maybeCompact()
	if journalErr = errors.Join(intentErr, journalErr); journalErr != nil {
		journalErr = fmt.Errorf("store: journal %d: %w", id, journalErr)
	}
	return n, err, journalErr
}

// intent is the I line of a request whose last write, of size bytes, is
// next on w: the count the witness must see for the request to be whole.
func (w *Wire) intent(id string, size int) (string, error) {
	if w.wit == nil {
		return "", nil
	}
	n, err := witness.Written(w.conn)
	if err != nil {
		return "", err
	}
	return "I " + id + " " + w.key + " " + strconv.FormatInt(n+int64(size), 10) + "\n", nil
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

	witMu     sync.Mutex
	wit       *witness.Witness // started at the first Wire, again if it died
	witErr    error            // why the last start failed
	witFailed time.Time        // when
	witEnded  bool             // the journal is closed: no more witnesses
}

// witnessRetry spaces the starts of a witness that fails to start.
const witnessRetry = time.Minute

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

// witness returns the journal's witness, started at the first use — and
// again if it died: the sockets it held are then unwitnessed, later ones
// are not. The journal's file is opened and locked first: another process
// opening the database must see the journal live, not wait for a live
// hub's witness.
func (j *journal) witness() (*witness.Witness, error) {
	j.witMu.Lock()
	defer j.witMu.Unlock()
	switch {
	case j.witEnded:
		return nil, ErrClosed
	case j.wit != nil && j.wit.Alive():
		return j.wit, nil
	case j.witErr != nil && time.Since(j.witFailed) < witnessRetry:
		return nil, j.witErr
	}
	if j.wit != nil {
		j.wit.Close() //nolint:errcheck // dead already: this reaps it
	}
	j.wit, j.witErr = nil, j.use(func(*os.File) error { return nil })
	if j.witErr == nil {
		j.wit, j.witErr = witness.Start(j.path)
	}
	if j.witErr != nil {
		j.witFailed = time.Now()
	}
	return j.wit, j.witErr
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

// close closes the file, then ends the witness: it appends the lines of
// the sockets it still held, which the next Open finds settle nothing.
func (j *journal) close() error {
	j.mu.Lock()
	var err error
	if j.f != nil {
		err = j.f.Close()
	}
	j.f, j.err = nil, ErrClosed
	j.mu.Unlock()
	j.witMu.Lock()
	defer j.witMu.Unlock()
	j.witEnded = true
	if j.wit != nil {
		err = errors.Join(err, j.wit.Close())
	}
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

// Replay is what Open's replay of the attempt journal did with the calls
// a crash (or a stop) left in flight, counted per outbox entry it settled.
type Replay struct {
	Answered int // marked sent with the answer the journal kept (R)
	InDoubt  int // marked sent, their answer lost (W, or I counted whole)
	// Witnessed is how many of InDoubt the witness's count settled: the
	// crash fell between the request's last write and its W line.
	Witnessed int
	// Again is how many the crash caught before their last write was
	// whole (I): left pending, to be made once.
	Again int
	// Unwitnessed is how many of Again had no count (no witness, or it
	// died with the hub): their request may have left whole, and making
	// them again may repeat them.
	Unwitnessed int
}

// Replayed is what Open's replay of the attempt journal settled.
func (db *DB) Replayed() Replay { return db.replay }

// replayJournal applies what a previous process's journal says to the
// outbox entries it left pending, then empties the journal. It does
// nothing while another process holds the journal: that process is alive
// and its calls are in flight.
func replayJournal(ctx context.Context, conn *sql.Conn, path string, now int64) (Replay, error) {
	f, err := openLocked(path, os.O_RDWR)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errJournalBusy) {
		return Replay{}, nil
	}
	if err != nil {
		return Replay{}, err
	}
	defer f.Close() // releases the lock
	// The dead hub's witness writes its lines as it sees the hub gone. One
	// that does not within witnessWait is stuck: without its lines, the
	// calls it would have settled are made again, as with no witness.
	witness.Wait(path, witnessWait)
	data, err := io.ReadAll(f)
	if err != nil {
		return Replay{}, err
	}
	r, err := applyJournal(ctx, conn, parseJournal(data), now)
	if err != nil {
		return Replay{}, err
	}
	return r, f.Truncate(0)
}

// journalLine is an entry's last line.
type journalLine struct {
	kind   byte
	result string // R's
	conn   string // I's
	end    int64  // I's
}

// journalLines is what a journal says: each entry's last line, and the
// witness's count for each connection.
type journalLines struct {
	last    map[int64]journalLine
	written map[string]int64
}

// parseJournal reads a journal. Lines it cannot read (only an OS crash can
// tear one) are skipped.
func parseJournal(data []byte) journalLines {
	out := journalLines{last: make(map[int64]journalLine), written: make(map[string]int64)}
	for line := range bytes.Lines(data) {
		text, ok := strings.CutSuffix(string(line), "\n")
		if !ok || len(text) < 3 || text[1] != ' ' {
			continue
		}
		if conn, n, ok := witness.ParseLine(text); ok {
			out.written[conn] = n
			continue
		}
		idText, rest, hasRest := strings.Cut(text[2:], " ")
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			continue
		}
		l := journalLine{kind: text[0]}
		switch {
		case l.kind == 'R' && hasRest:
			if l.result, err = strconv.Unquote(rest); err != nil {
				continue
			}
		case l.kind == 'I' && hasRest:
			conn, end, ok := strings.Cut(rest, " ")
			if l.end, err = strconv.ParseInt(end, 10, 64); !ok || conn == "" || err != nil {
				continue
			}
			l.conn = conn
		case (l.kind == 'W' || l.kind == 'E') && !hasRest:
		default:
			continue
		}
		out.last[id] = l
	}
	return out
}

// sent says whether the platform got the whole request of an entry whose
// last line is l, and the note to keep with it: R and W say so, E says
// not, and I asks the witness — no count, or too few bytes, means the
// request never left whole, and the call is made again.
func (j journalLines) sent(l journalLine) (bool, string) {
	switch l.kind {
	case 'R':
		return true, ""
	case 'W':
		return true, InDoubt
	case 'I':
		n, ok := j.written[l.conn]
		return ok && n >= l.end, InDoubt
	}
	return false, ""
}

// applyJournal marks sent, in one transaction, the pending entries the
// journal says the platform got (see sent), and counts what it settled.
func applyJournal(ctx context.Context, conn *sql.Conn, lines journalLines, now int64) (Replay, error) {
	var r Replay
	if len(lines.last) == 0 {
		return r, nil
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return r, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for id, l := range lines.last {
		if l.kind == 'E' {
			continue
		}
		sent, note := lines.sent(l)
		var pending bool
		if sent {
			res, err := tx.ExecContext(ctx,
				`UPDATE outbox SET sent_at = ?, result = ?, last_error = ?, attempts = attempts + 1
				 WHERE id = ? AND sent_at IS NULL AND failed = 0`, now, l.result, note, id)
			if err != nil {
				return r, err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return r, err
			}
			pending = n > 0
		} else if err := tx.QueryRowContext(ctx,
			`SELECT count(*) > 0 FROM outbox WHERE id = ? AND sent_at IS NULL AND failed = 0`, id).Scan(&pending); err != nil {
			return r, err
		}
		if pending { // else the outbox had committed its outcome already
			r.count(l, sent, lines)
		}
	}
	return r, tx.Commit()
}

// count adds an entry the replay settled, whose last line is l.
func (r *Replay) count(l journalLine, sent bool, lines journalLines) {
	_, counted := lines.written[l.conn]
	switch {
	case l.kind == 'R':
		r.Answered++
	case sent:
		r.InDoubt++
		if l.kind == 'I' {
			r.Witnessed++
		}
	default:
		r.Again++
		if !counted {
			r.Unwitnessed++
		}
	}
}
