package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations is the schema history, oldest first. Migration i (0-based) moves
// the database from version i to version i+1, and the version is kept in
// PRAGMA user_version, so the schema version is simply len(migrations).
//
// To change the schema, APPEND a new string here; never edit or reorder one
// that has shipped, because databases in the field have already run it.
// Each entry may hold several statements. All pending migrations run in one
// IMMEDIATE transaction at Open, so a crash mid-migration leaves the old
// version intact and a second process cannot migrate concurrently.
//
// Times are stored as INTEGER Unix nanoseconds (UTC): they sort, compare and
// round-trip exactly, which is what TTL checks need.
var migrations = []string{
	// 1: scopes — one row per conversation the hub has seen.
	`CREATE TABLE scopes (
		key       TEXT PRIMARY KEY,
		protocol  TEXT NOT NULL,
		opened_at INTEGER NOT NULL,
		last_seen INTEGER NOT NULL,
		closed_at INTEGER           -- NULL while the scope is open
	);`,

	// 2: scope state — single values with an optional expiry, and append-only
	// lists kept apart so appends never rewrite a growing blob.
	`CREATE TABLE state (
		ns         TEXT NOT NULL,
		scope      TEXT NOT NULL,
		key        TEXT NOT NULL,
		value      BLOB NOT NULL,
		expires_at INTEGER,         -- NULL = never expires
		PRIMARY KEY (ns, scope, key)
	) WITHOUT ROWID;
	CREATE INDEX state_expires ON state (expires_at) WHERE expires_at IS NOT NULL;
	CREATE TABLE state_list (
		ns    TEXT NOT NULL,
		scope TEXT NOT NULL,
		key   TEXT NOT NULL,
		seq   INTEGER NOT NULL,     -- 1, 2, 3… per list; trimming removes a prefix
		value BLOB NOT NULL,
		PRIMARY KEY (ns, scope, key, seq)
	) WITHOUT ROWID;`,

	// 3: the outbox of outgoing platform calls, written before a call is
	// attempted so that a crash loses none; dedupe makes a replayed update's
	// actions land on the rows its first handling wrote.
	`CREATE TABLE outbox (
		id           INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: sending order
		platform     TEXT NOT NULL,
		bot          TEXT NOT NULL,
		scope        TEXT NOT NULL,   -- the conversation's scope key
		kind         TEXT NOT NULL,   -- the action's type ("chat.send")
		payload      BLOB NOT NULL,   -- the call, JSON
		dedupe       TEXT,            -- NULL, or unique per (platform, bot)
		created      INTEGER NOT NULL,
		attempts     INTEGER NOT NULL DEFAULT 0,
		next_attempt INTEGER NOT NULL,
		last_error   TEXT NOT NULL DEFAULT '',
		sent_at      INTEGER,         -- NULL until the platform accepted it
		failed       INTEGER NOT NULL DEFAULT 0, -- 1: given up (refused by the platform)
		result       TEXT NOT NULL DEFAULT ''    -- what the platform answered (the new message id)
	);
	CREATE UNIQUE INDEX outbox_dedupe ON outbox (platform, bot, dedupe) WHERE dedupe IS NOT NULL;
	CREATE INDEX outbox_pending ON outbox (platform, bot, id) WHERE sent_at IS NULL AND failed = 0;

	-- checkpoints: an adapter's position in a platform's stream.
	CREATE TABLE checkpoints (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	) WITHOUT ROWID;

	-- inbound: updates taken from a platform but not yet handled, so that
	-- confirming them to the platform loses nothing in a crash.
	CREATE TABLE inbound (
		platform TEXT NOT NULL,
		bot      TEXT NOT NULL,
		id       INTEGER NOT NULL,    -- the platform's update id
		payload  BLOB NOT NULL,
		received INTEGER NOT NULL,
		PRIMARY KEY (platform, bot, id)
	) WITHOUT ROWID;

	-- tokens: bot tokens registered with "hub token add".
	CREATE TABLE tokens (
		name     TEXT PRIMARY KEY,
		platform TEXT NOT NULL,
		token    TEXT NOT NULL,
		created  INTEGER NOT NULL
	) WITHOUT ROWID;`,

	// 4: messages — the message-id map. A hub message (one id) has a copy
	// on each platform it was relayed to; each copy is a platform's message
	// id in one conversation (scope key). Replies, edits and deletes of a
	// copy find the others here, after restarts too.
	`CREATE TABLE messages (
		scope   TEXT NOT NULL,  -- the conversation's scope key ("telegram:support:42")
		id      TEXT NOT NULL,  -- the platform's message id in it
		hub_id  TEXT NOT NULL,
		created INTEGER NOT NULL,
		PRIMARY KEY (scope, id)
	) WITHOUT ROWID;
	CREATE INDEX messages_hub ON messages (hub_id);`,

	// 5: the sweep forgets copies older than the retention (WithMessageRetention).
	`CREATE INDEX messages_created ON messages (created);`,
}

// ErrSchemaTooNew is returned by Open when the database was written by a newer
// version of the hub than this binary: running old code against a newer schema
// could silently corrupt data, so we refuse.
var ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")

// migrate brings the database on conn up to len(steps). It reads the current
// version inside the write transaction so two processes opening the same file
// cannot both apply a step.
func migrate(ctx context.Context, conn *sql.Conn, steps []string) error {
	tx, err := conn.BeginTx(ctx, nil) // the writer DSN makes this BEGIN IMMEDIATE
	if err != nil {
		return fmt.Errorf("store: migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("store: migrate: read version: %w", err)
	}
	if v > len(steps) {
		return fmt.Errorf("%w: database is at version %d, this binary knows %d", ErrSchemaTooNew, v, len(steps))
	}
	if v == len(steps) {
		return nil
	}
	for i := v; i < len(steps); i++ {
		if _, err := tx.ExecContext(ctx, steps[i]); err != nil {
			return fmt.Errorf("store: migrate to version %d: %w", i+1, err)
		}
	}
	// PRAGMA user_version is written in the database header inside this
	// transaction, so the schema and its version commit together.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(steps))); err != nil {
		return fmt.Errorf("store: migrate: set version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: commit: %w", err)
	}
	return nil
}
