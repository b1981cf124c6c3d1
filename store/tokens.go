package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNoToken is returned by TokenGet and TokenRemove for a name with no
// token.
var ErrNoToken = errors.New("store: no such token")

// TokenInfo describes a registered bot token without the token itself, so
// listing tokens can never print one.
type TokenInfo struct {
	Name     string
	Platform string
	Created  time.Time
}

// TokenAdd registers (or replaces) the token of the bot called name. The
// database file is private to its owner (mode 0600, see Open).
func (db *DB) TokenAdd(ctx context.Context, name, platform, token string) error {
	if name == "" || platform == "" || token == "" {
		return fmt.Errorf("store: add token %q: name, platform and token are required", name)
	}
	now := db.now().UnixNano()
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO tokens (name, platform, token, created) VALUES (?, ?, ?, ?)
			 ON CONFLICT (name) DO UPDATE SET platform = excluded.platform, token = excluded.token, created = excluded.created`,
			name, platform, token, now)
		return err
	})
	if err != nil {
		// The error names the bot, never the token.
		return fmt.Errorf("store: add token %q: %w", name, err)
	}
	return nil
}

// TokenGet returns the token registered for the bot called name and its
// platform, or ErrNoToken. This is where the server looks up a configured
// bot that has no token: of its own.
func (db *DB) TokenGet(ctx context.Context, name string) (token, platform string, err error) {
	if db.isClosed() {
		return "", "", ErrClosed
	}
	err = db.r.QueryRowContext(ctx, `SELECT token, platform FROM tokens WHERE name = ?`, name).Scan(&token, &platform)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("store: token %q: %w", name, ErrNoToken)
	}
	if err != nil {
		return "", "", fmt.Errorf("store: token %q: %w", name, err)
	}
	return token, platform, nil
}

// TokenList lists the registered tokens by name, without the tokens.
func (db *DB) TokenList(ctx context.Context) ([]TokenInfo, error) {
	if db.isClosed() {
		return nil, ErrClosed
	}
	rows, err := db.r.QueryContext(ctx, `SELECT name, platform, created FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	defer rows.Close()
	var out []TokenInfo
	for rows.Next() {
		var (
			ti      TokenInfo
			created int64
		)
		if err := rows.Scan(&ti.Name, &ti.Platform, &created); err != nil {
			return nil, fmt.Errorf("store: list tokens: %w", err)
		}
		ti.Created = time.Unix(0, created)
		out = append(out, ti)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	return out, nil
}

// TokenRemove deletes the token of the bot called name, or returns
// ErrNoToken.
func (db *DB) TokenRemove(ctx context.Context, name string) error {
	var n int64
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE name = ?`, name)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("store: remove token %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("store: remove token %q: %w", name, ErrNoToken)
	}
	return nil
}
