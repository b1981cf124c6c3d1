package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hubhq/hub/core"
)

// DB is the hub's state and scope store.
var (
	_ core.StateStore   = (*DB)(nil)
	_ core.ScopeTracker = (*DB)(nil)
)

// A key holds a single value (SetState) and, independently, a list
// (AppendState); DeleteState removes both. Lists never expire.

// sweepChunk bounds one sweep transaction so a backlog of expired rows never
// holds the writer, and with it every caller's write, for long.
const sweepChunk = 1000

func keyString(k core.StateKey) string { return k.Namespace + "/" + k.Scope + "/" + k.Key }

// GetState returns the value under k. A value whose TTL has passed is
// reported missing, and its row is deleted in the background.
func (db *DB) GetState(ctx context.Context, k core.StateKey) ([]byte, bool, error) {
	if db.isClosed() {
		return nil, false, ErrClosed
	}
	var (
		value   []byte
		expires sql.NullInt64
	)
	err := db.r.QueryRowContext(ctx,
		`SELECT value, expires_at FROM state WHERE ns = ? AND scope = ? AND key = ?`,
		k.Namespace, k.Scope, k.Key).Scan(&value, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: get state %s: %w", keyString(k), err)
	}
	if now := db.now().UnixNano(); expires.Valid && expires.Int64 <= now {
		// The condition on expires_at keeps this from deleting a fresh value
		// set after we read.
		db.writeAsync(func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx,
				`DELETE FROM state WHERE ns = ? AND scope = ? AND key = ? AND expires_at <= ?`,
				k.Namespace, k.Scope, k.Key, now)
			return err
		})
		return nil, false, nil
	}
	return value, true, nil
}

// SetState stores value under k, replacing any previous value; ttl 0 keeps it
// until deleted. It returns once the value is committed (see doc.go for how
// durable that is).
func (db *DB) SetState(ctx context.Context, k core.StateKey, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("store: set state %s: negative ttl %v", keyString(k), ttl)
	}
	var expires sql.NullInt64
	if ttl > 0 {
		expires = sql.NullInt64{Int64: db.now().Add(ttl).UnixNano(), Valid: true}
	}
	// Copy: if ctx ends the caller returns and may reuse value while the
	// writer has yet to read it. (Non-nil also keeps NOT NULL happy.)
	v := append([]byte{}, value...)
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO state (ns, scope, key, value, expires_at) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT (ns, scope, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
			k.Namespace, k.Scope, k.Key, v, expires)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set state %s: %w", keyString(k), err)
	}
	return nil
}

// DeleteState removes the value and the list under k. Deleting a missing key
// is not an error.
func (db *DB) DeleteState(ctx context.Context, k core.StateKey) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM state WHERE ns = ? AND scope = ? AND key = ?`,
			k.Namespace, k.Scope, k.Key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`DELETE FROM state_list WHERE ns = ? AND scope = ? AND key = ?`,
			k.Namespace, k.Scope, k.Key)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete state %s: %w", keyString(k), err)
	}
	return nil
}

// AppendState appends value to the list under k and then keeps only its
// newest keep values (0 keeps all). Read-modify-write is safe here because
// only the single writer goroutine runs it, so concurrent appends serialise.
func (db *DB) AppendState(ctx context.Context, k core.StateKey, value []byte, keep int) error {
	if keep < 0 {
		return fmt.Errorf("store: append state %s: negative keep %d", keyString(k), keep)
	}
	v := append([]byte{}, value...) // see SetState
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx,
			`SELECT COALESCE(MAX(seq), 0) + 1 FROM state_list WHERE ns = ? AND scope = ? AND key = ?`,
			k.Namespace, k.Scope, k.Key).Scan(&seq); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO state_list (ns, scope, key, seq, value) VALUES (?, ?, ?, ?, ?)`,
			k.Namespace, k.Scope, k.Key, seq, v); err != nil {
			return err
		}
		if keep == 0 || seq <= int64(keep) {
			return nil
		}
		// Sequence numbers are contiguous (only a prefix is ever trimmed, or
		// the whole list deleted), so this leaves exactly the newest keep.
		_, err := tx.ExecContext(ctx,
			`DELETE FROM state_list WHERE ns = ? AND scope = ? AND key = ? AND seq <= ?`,
			k.Namespace, k.Scope, k.Key, seq-int64(keep))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: append state %s: %w", keyString(k), err)
	}
	return nil
}

// ListState returns the list under k, oldest first; a missing list is empty.
func (db *DB) ListState(ctx context.Context, k core.StateKey) ([][]byte, error) {
	if db.isClosed() {
		return nil, ErrClosed
	}
	rows, err := db.r.QueryContext(ctx,
		`SELECT value FROM state_list WHERE ns = ? AND scope = ? AND key = ? ORDER BY seq`,
		k.Namespace, k.Scope, k.Key)
	if err != nil {
		return nil, fmt.Errorf("store: list state %s: %w", keyString(k), err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: list state %s: %w", keyString(k), err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list state %s: %w", keyString(k), err)
	}
	return out, nil
}

// sweep deletes expired values, a chunk per transaction, and returns how many
// it deleted.
func (db *DB) sweep(ctx context.Context) (int64, error) {
	var total int64
	for {
		now := db.now().UnixNano()
		var n int64
		err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx,
				`DELETE FROM state WHERE (ns, scope, key) IN (
					SELECT ns, scope, key FROM state
					WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)`,
				now, sweepChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			// n is not read: a write given up on (ctx ended) may still be
			// running its op, which sets n.
			return total, fmt.Errorf("store: sweep expired state: %w", err)
		}
		total += n
		if n < sweepChunk {
			return total, nil
		}
	}
}

// sweepLoop runs sweep every interval until ctx (cancelled by Close) ends,
// and forgets message copies older than keepLinks (if > 0).
func (db *DB) sweepLoop(ctx context.Context, every, keepLinks time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// An error here (e.g. disk full) is counted in Stats.Failed by
			// the writer and retried at the next tick; there is no one to
			// return it to.
			db.sweep(ctx) //nolint:errcheck
			if keepLinks > 0 {
				db.MessagePrune(ctx, db.now().Add(-keepLinks)) //nolint:errcheck // as above
			}
		}
	}
}
