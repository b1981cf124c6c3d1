package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Checkpoint returns the value under key, such as a Telegram bot's next
// update offset ("telegram:<bot>:offset").
func (db *DB) Checkpoint(ctx context.Context, key string) (string, bool, error) {
	if db.isClosed() {
		return "", false, ErrClosed
	}
	var v string
	err := db.r.QueryRowContext(ctx, `SELECT value FROM checkpoints WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: checkpoint %s: %w", key, err)
	}
	return v, true, nil
}

// SetCheckpoint stores value under key; it returns once committed.
func (db *DB) SetCheckpoint(ctx context.Context, key, value string) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return setCheckpoint(ctx, tx, key, value)
	})
	if err != nil {
		return fmt.Errorf("store: set checkpoint %s: %w", key, err)
	}
	return nil
}

func setCheckpoint(ctx context.Context, tx *sql.Tx, key, value string) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO checkpoints (key, value) VALUES (?, ?)
		 ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// Inbound is one update an adapter took from a platform and has not
// finished handling.
type Inbound struct {
	ID      int64  // the platform's update id
	Payload []byte // the update, as the platform sent it
}

// InboundAdd journals updates of a bot and, in the same transaction, sets
// a checkpoint (the bot's next offset), returning once committed. An adapter
// calls it before it confirms the updates to the platform, so that a crash
// after the confirmation loses none: InboundPending returns them at the next
// start. Updates already journaled are left as they are. checkpointKey ""
// sets no checkpoint.
func (db *DB) InboundAdd(ctx context.Context, platform, bot string, updates []Inbound, checkpointKey, checkpointValue string) error {
	now := db.now().UnixNano()
	copied := make([]Inbound, len(updates))
	for i, u := range updates {
		copied[i] = Inbound{ID: u.ID, Payload: append([]byte{}, u.Payload...)} // see SetState
	}
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := insertInbound(ctx, tx, platform, bot, copied, now); err != nil {
			return err
		}
		if checkpointKey == "" {
			return nil
		}
		return setCheckpoint(ctx, tx, checkpointKey, checkpointValue)
	})
	if err != nil {
		return fmt.Errorf("store: journal %d updates of %s/%s: %w", len(updates), platform, bot, err)
	}
	return nil
}

// inboundRows is how many updates one INSERT journals: 3 + 2 parameters
// a row, under the 999 of SQLite's older builds. A poll brings at most 100.
const inboundRows = 400

// insertInbound journals updates with one statement per inboundRows of
// them (a statement per update made the writer prepare and run one for
// each); each row keeps the effect it had alone: one already journaled,
// or twice in updates, is left as it is.
func insertInbound(ctx context.Context, tx *sql.Tx, platform, bot string, updates []Inbound, now int64) error {
	var q strings.Builder
	for len(updates) > 0 {
		rows := updates[:min(len(updates), inboundRows)]
		updates = updates[len(rows):]
		q.Reset()
		q.WriteString(`INSERT INTO inbound (platform, bot, id, payload, received) VALUES `)
		args := make([]any, 3, 3+2*len(rows))
		args[0], args[1], args[2] = platform, bot, now
		for i, u := range rows {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?1, ?2, ?")
			q.WriteString(strconv.Itoa(4 + 2*i))
			q.WriteString(", ?")
			q.WriteString(strconv.Itoa(5 + 2*i))
			q.WriteString(", ?3)")
			args = append(args, u.ID, u.Payload)
		}
		q.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// InboundPending returns a bot's journaled updates not yet marked handled,
// oldest first.
func (db *DB) InboundPending(ctx context.Context, platform, bot string) ([]Inbound, error) {
	if db.isClosed() {
		return nil, ErrClosed
	}
	rows, err := db.r.QueryContext(ctx,
		`SELECT id, payload FROM inbound WHERE platform = ? AND bot = ? ORDER BY id`, platform, bot)
	if err != nil {
		return nil, fmt.Errorf("store: pending updates of %s/%s: %w", platform, bot, err)
	}
	defer rows.Close()
	var out []Inbound
	for rows.Next() {
		var u Inbound
		if err := rows.Scan(&u.ID, &u.Payload); err != nil {
			return nil, fmt.Errorf("store: pending updates of %s/%s: %w", platform, bot, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pending updates of %s/%s: %w", platform, bot, err)
	}
	return out, nil
}

// InboundHandled removes a handled update from the journal. It is
// fire-and-forget like ScopeOpened: it is on the adapter's hot path, and
// losing it in a crash only means the update is handled again at the next
// start — which the outbox's Dedupe keys make harmless for its actions.
func (db *DB) InboundHandled(platform, bot string, id int64) {
	db.markAsync(&inboundHandled, handledMark{platform: platform, bot: bot, id: id})
}

// handledMark is an InboundHandled to apply.
type handledMark struct {
	platform, bot string
	id            int64
}

// inboundHandled deletes a batch's handled updates with a statement per
// bot: its ids as a JSON array.
var inboundHandled = markKind{apply: func(ctx context.Context, tx *sql.Tx, args []any) error {
	type bot struct{ platform, name string }
	ids := make(map[bot][]byte, 1)
	for _, a := range args {
		m := a.(handledMark)
		k := bot{m.platform, m.bot}
		buf := ids[k]
		if buf == nil {
			buf = append(make([]byte, 0, 16*len(args)), '[')
		} else {
			buf = append(buf, ',')
		}
		ids[k] = strconv.AppendInt(buf, m.id, 10)
	}
	for k, buf := range ids {
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM inbound WHERE platform = ? AND bot = ? AND id IN (SELECT value FROM json_each(?))`,
			k.platform, k.name, string(append(buf, ']'))); err != nil {
			return err
		}
	}
	return nil
}}
