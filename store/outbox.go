package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrDuplicate is returned by OutboxAdd, with the id of the entry already
// there, when an entry with the same Dedupe key exists: the action was
// written before (by a handling of the same update that a crash cut short),
// and the caller should look at that entry instead of sending again.
var ErrDuplicate = errors.New("store: duplicate outbox entry")

// OutboxEntry is one outgoing platform call: written before it is attempted,
// marked done once the platform accepted it, so that a crash in between
// leaves it to be sent by the next start.
type OutboxEntry struct {
	ID       int64 // set by OutboxAdd; ids grow, so they order the calls
	Platform string
	Bot      string
	Scope    string // the conversation's scope key
	Kind     string // the action's type ("chat.send")
	Payload  []byte // the call, as the adapter encodes it (JSON)
	// Dedupe, if not "", is unique per platform and bot: an adapter keys
	// the actions of one incoming update by it ("<update id>:<n>").
	Dedupe      string
	Created     time.Time
	Attempts    int
	NextAttempt time.Time // not to be tried before
	LastError   string    // on a sent entry: InDoubt, or ""
	SentAt      time.Time // zero while pending
	Failed      bool      // given up on: the platform refused it
	Result      string    // the platform's answer, such as the new message's id
}

// Pending reports whether the entry still has to be sent.
func (e OutboxEntry) Pending() bool { return e.SentAt.IsZero() && !e.Failed }

// OutboxAdd writes an entry and returns its id once it is committed, so a
// crash after it returns does not lose the call. An entry whose Dedupe key
// is taken is not written: OutboxAdd returns the existing entry's id and
// ErrDuplicate.
func (db *DB) OutboxAdd(ctx context.Context, e OutboxEntry) (int64, error) {
	now := db.now().UnixNano()
	next := now
	if !e.NextAttempt.IsZero() {
		next = e.NextAttempt.UnixNano()
	}
	var dedupe sql.NullString
	if e.Dedupe != "" {
		dedupe = sql.NullString{String: e.Dedupe, Valid: true}
	}
	payload := append([]byte{}, e.Payload...) // see SetState
	var id int64
	dup := false
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		dup = false
		res, err := tx.ExecContext(ctx,
			`INSERT INTO outbox (platform, bot, scope, kind, payload, dedupe, created, next_attempt)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (platform, bot, dedupe) WHERE dedupe IS NOT NULL DO NOTHING`,
			e.Platform, e.Bot, e.Scope, e.Kind, payload, dedupe, now, next)
		if err != nil {
			return err
		}
		// An insert (not a RETURNING query) is a plain step: the row's id
		// is the connection's last, unless the key was taken.
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			if err == nil {
				id, err = res.LastInsertId()
			}
			return err
		}
		dup = true
		return tx.QueryRowContext(ctx,
			`SELECT id FROM outbox WHERE platform = ? AND bot = ? AND dedupe = ?`,
			e.Platform, e.Bot, e.Dedupe).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: outbox add %s/%s %s: %w", e.Platform, e.Bot, e.Kind, err)
	}
	if dup {
		return id, ErrDuplicate
	}
	return id, nil
}

const outboxColumns = `id, platform, bot, scope, kind, payload, COALESCE(dedupe, ''), created,
	attempts, next_attempt, last_error, sent_at, failed, result`

func scanOutbox(row interface{ Scan(...any) error }) (OutboxEntry, error) {
	var (
		e             OutboxEntry
		created, next int64
		sent          sql.NullInt64
	)
	if err := row.Scan(&e.ID, &e.Platform, &e.Bot, &e.Scope, &e.Kind, &e.Payload, &e.Dedupe, &created,
		&e.Attempts, &next, &e.LastError, &sent, &e.Failed, &e.Result); err != nil {
		return OutboxEntry{}, err
	}
	e.Created, e.NextAttempt = time.Unix(0, created), time.Unix(0, next)
	if sent.Valid {
		e.SentAt = time.Unix(0, sent.Int64)
	}
	return e, nil
}

// OutboxGet returns the entry id.
func (db *DB) OutboxGet(ctx context.Context, id int64) (OutboxEntry, bool, error) {
	if db.isClosed() {
		return OutboxEntry{}, false, ErrClosed
	}
	e, err := scanOutbox(db.r.QueryRowContext(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return OutboxEntry{}, false, nil
	}
	if err != nil {
		return OutboxEntry{}, false, fmt.Errorf("store: outbox get %d: %w", id, err)
	}
	return e, true, nil
}

// OutboxPending returns up to limit (0: all) entries of a bot that are
// still to be sent, in id order — the order they were written, which keeps
// each conversation's calls in order — whatever their NextAttempt.
func (db *DB) OutboxPending(ctx context.Context, platform, bot string, limit int) ([]OutboxEntry, error) {
	if db.isClosed() {
		return nil, ErrClosed
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := db.r.QueryContext(ctx,
		`SELECT `+outboxColumns+` FROM outbox
		 WHERE platform = ? AND bot = ? AND sent_at IS NULL AND failed = 0
		 ORDER BY id LIMIT ?`, platform, bot, limit)
	if err != nil {
		return nil, fmt.Errorf("store: outbox pending %s/%s: %w", platform, bot, err)
	}
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		e, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("store: outbox pending %s/%s: %w", platform, bot, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: outbox pending %s/%s: %w", platform, bot, err)
	}
	return out, nil
}

// OutboxDone marks an entry sent, with the platform's answer (the new
// message's id, or ""), once committed. Marking an entry twice keeps the
// first answer.
func (db *DB) OutboxDone(ctx context.Context, id int64, result string) error {
	err := db.applyMark(ctx, &outboxDone, doneMark{id: id, at: db.now().UnixNano(), result: result})
	if err != nil {
		return fmt.Errorf("store: outbox done %d: %w", id, err)
	}
	db.calls.settle(id)
	return nil
}

// doneMark is an OutboxDone to apply.
type doneMark struct {
	id, at int64
	result string
}

// outboxDone marks a batch's entries done in one statement: a JSON object
// from each id to its result, which SQLite reads without parsing anything
// twice. An entry marked twice keeps the first result; all are sent "at"
// the batch's last mark, a few microseconds from their own.
var outboxDone = markKind{apply: func(ctx context.Context, tx *sql.Tx, args []any) error {
	buf := make([]byte, 0, 24*len(args))
	buf = append(buf, '{')
	seen := make(map[int64]bool, len(args))
	var at int64
	for _, a := range args {
		m := a.(doneMark)
		at = max(at, m.at)
		if seen[m.id] {
			continue
		}
		seen[m.id] = true
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		result, err := json.Marshal(m.result)
		if err != nil {
			return err
		}
		buf = append(buf, '"')
		buf = strconv.AppendInt(buf, m.id, 10)
		buf = append(buf, '"', ':')
		buf = append(buf, result...)
	}
	buf = append(buf, '}')
	_, err := tx.ExecContext(ctx,
		`UPDATE outbox SET sent_at = ?, result = d.value, attempts = attempts + 1, last_error = ''
		 FROM json_each(?) AS d
		 WHERE outbox.id = CAST(d.key AS INTEGER) AND outbox.sent_at IS NULL`, at, string(buf))
	return err
}}

// OutboxRetry records a failed attempt and when to try again.
func (db *DB) OutboxRetry(ctx context.Context, id int64, next time.Time, lastErr string) error {
	return db.outboxSettle(ctx, "retry", id,
		`UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ?
		 WHERE id = ? AND sent_at IS NULL`, next.UnixNano(), lastErr, id)
}

// OutboxFail gives up on an entry the platform refused (a bad request, a
// blocked bot): it is kept, with its error, but never sent again.
func (db *DB) OutboxFail(ctx context.Context, id int64, lastErr string) error {
	return db.outboxSettle(ctx, "fail", id,
		`UPDATE outbox SET attempts = attempts + 1, failed = 1, last_error = ?
		 WHERE id = ? AND sent_at IS NULL`, lastErr, id)
}

// outboxSettle commits an attempt's outcome; the entry's lines in the
// attempt journal are then no longer needed.
func (db *DB) outboxSettle(ctx context.Context, what string, id int64, query string, args ...any) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: outbox %s %d: %w", what, id, err)
	}
	db.calls.settle(id)
	return nil
}

// OutboxPrune deletes entries that were sent or given up on before the
// given time, and returns how many. Sent entries are kept a while because
// their Dedupe keys stop a replayed update from sending its actions again;
// prune only what no replay can need (the adapter's inbound journal is
// emptied within seconds of handling).
func (db *DB) OutboxPrune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM outbox WHERE (sent_at IS NOT NULL OR failed = 1) AND created < ?`, before.UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: outbox prune: %w", err)
	}
	return n, nil
}
