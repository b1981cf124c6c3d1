package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MessageCopy is one platform's copy of a hub message: its id within a
// conversation, named by the conversation's scope key.
type MessageCopy struct {
	Scope string // "telegram:support:42", "discord:community:998877"
	ID    string // the platform's message id
}

// MessageLink records that copy is a copy of the hub message hubID. Linking
// a copy again moves it to the new hub id.
func (db *DB) MessageLink(ctx context.Context, hubID string, copy MessageCopy) error {
	if hubID == "" || copy.Scope == "" || copy.ID == "" {
		return fmt.Errorf("store: link message: hub id, scope and id are required (got %q, %+v)", hubID, copy)
	}
	now := db.now().UnixNano()
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO messages (scope, id, hub_id, created) VALUES (?, ?, ?, ?)
			 ON CONFLICT (scope, id) DO UPDATE SET hub_id = excluded.hub_id`,
			copy.Scope, copy.ID, hubID, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: link message %s: %w", hubID, err)
	}
	return nil
}

// MessageHubID returns the hub message that copy belongs to; ok is false
// for a message never linked.
func (db *DB) MessageHubID(ctx context.Context, copy MessageCopy) (hubID string, ok bool, err error) {
	if db.isClosed() {
		return "", false, ErrClosed
	}
	err = db.r.QueryRowContext(ctx, `SELECT hub_id FROM messages WHERE scope = ? AND id = ?`, copy.Scope, copy.ID).Scan(&hubID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: message %s %s: %w", copy.Scope, copy.ID, err)
	}
	return hubID, true, nil
}

// MessageCopies returns every copy of the hub message hubID, oldest first
// (the original, then its relays).
func (db *DB) MessageCopies(ctx context.Context, hubID string) ([]MessageCopy, error) {
	if db.isClosed() {
		return nil, ErrClosed
	}
	rows, err := db.r.QueryContext(ctx, `SELECT scope, id FROM messages WHERE hub_id = ? ORDER BY created, scope`, hubID)
	if err != nil {
		return nil, fmt.Errorf("store: copies of message %s: %w", hubID, err)
	}
	defer rows.Close()
	var out []MessageCopy
	for rows.Next() {
		var c MessageCopy
		if err := rows.Scan(&c.Scope, &c.ID); err != nil {
			return nil, fmt.Errorf("store: copies of message %s: %w", hubID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// MessagePrune forgets the copies linked before the given time, so the map
// does not grow forever; edits of older messages are then not relayed.
func (db *DB) MessagePrune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE created < ?`, before.UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune messages: %w", err)
	}
	return n, nil
}
