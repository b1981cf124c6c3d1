package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ScopeRecord is what the store knows about one scope (conversation).
type ScopeRecord struct {
	Key      string
	Protocol string
	OpenedAt time.Time
	LastSeen time.Time
	ClosedAt time.Time // zero while the scope is open
}

// Open reports whether the scope has not been closed since it was last opened.
func (r ScopeRecord) Open() bool { return r.ClosedAt.IsZero() }

// ScopeOpened records that a scope opened (or reopened: closed_at is
// cleared). It is fire-and-forget: it queues the write and returns at once,
// and drops it (counted in Stats.Dropped) if the queue is full, because it is
// called on adapters' hot paths and the record is bookkeeping, not data.
// The time recorded is the time of the call.
func (db *DB) ScopeOpened(key, protocol string) {
	now := db.now().UnixNano()
	db.writeAsync(func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO scopes (key, protocol, opened_at, last_seen, closed_at) VALUES (?, ?, ?, ?, NULL)
			 ON CONFLICT (key) DO UPDATE SET protocol = excluded.protocol,
				opened_at = excluded.opened_at, last_seen = excluded.last_seen, closed_at = NULL`,
			key, protocol, now, now)
		return err
	})
}

// ScopeSeen updates a scope's last_seen time; fire-and-forget like
// ScopeOpened. Unknown keys are ignored.
func (db *DB) ScopeSeen(key string) {
	now := db.now().UnixNano()
	db.writeAsync(func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE scopes SET last_seen = ? WHERE key = ?`, now, key)
		return err
	})
}

// ScopeClosed records that a scope closed; fire-and-forget like ScopeOpened.
// Unknown keys are ignored (their ScopeOpened may have been dropped).
func (db *DB) ScopeClosed(key string) {
	now := db.now().UnixNano()
	db.writeAsync(func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`UPDATE scopes SET closed_at = ?, last_seen = ? WHERE key = ?`, now, now, key)
		return err
	})
}

// Scope returns the record for key. Fire-and-forget writes queued before the
// call may not be visible yet; call Flush first to see them.
func (db *DB) Scope(ctx context.Context, key string) (ScopeRecord, bool, error) {
	if db.isClosed() {
		return ScopeRecord{}, false, ErrClosed
	}
	var (
		rec          ScopeRecord
		opened, seen int64
		closed       sql.NullInt64
	)
	err := db.r.QueryRowContext(ctx,
		`SELECT key, protocol, opened_at, last_seen, closed_at FROM scopes WHERE key = ?`, key).
		Scan(&rec.Key, &rec.Protocol, &opened, &seen, &closed)
	if errors.Is(err, sql.ErrNoRows) {
		return ScopeRecord{}, false, nil
	}
	if err != nil {
		return ScopeRecord{}, false, fmt.Errorf("store: scope %s: %w", key, err)
	}
	rec.OpenedAt = time.Unix(0, opened)
	rec.LastSeen = time.Unix(0, seen)
	if closed.Valid {
		rec.ClosedAt = time.Unix(0, closed.Int64)
	}
	return rec, true, nil
}
