package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/adapters/ratelimit"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/store"
)

// Checkpoints store small values that must survive a restart, by key; an
// adapter keeps its position in a platform's stream there
// ("telegram:<bot>:offset"). Package store implements it.
type Checkpoints interface {
	Checkpoint(ctx context.Context, key string) (value string, ok bool, err error)
	SetCheckpoint(ctx context.Context, key, value string) error
}

// allowedUpdates are the update kinds the adapter asks for; Telegram leaves
// out member and reaction updates unless asked.
var allowedUpdates = []string{
	models.AllowedUpdateMessage, models.AllowedUpdateEditedMessage,
	models.AllowedUpdateChannelPost, models.AllowedUpdateEditedChannelPost,
	models.AllowedUpdateCallbackQuery, models.AllowedUpdateMyChatMember,
	models.AllowedUpdateChatMember, models.AllowedUpdateMessageReaction,
}

// incoming is an update with the JSON Telegram sent it in, which the
// journal keeps as it came.
type incoming struct {
	u   *models.Update
	raw json.RawMessage
}

// poll receives a polling bot's updates until ctx ends. It confirms a batch
// (by asking for the next offset) only once every update in it is in its
// scope's inbox — or, with an Outbox, once the batch is journaled (with the
// next offset, in one transaction) — so a crash loses nothing: Telegram
// keeps unconfirmed updates and sends them again, and the journal hands over
// the rest at the next start. (The client library's own loop confirms
// them as soon as they are queued in memory.) Updates are handed over one at
// a time, so each chat's events stay in order.
func (a *Adapter) poll(ctx context.Context, b *botRunner) {
	key := Platform + ":" + b.cfg.Name + ":offset"
	offset := a.loadOffset(ctx, key)
	wait := ratelimit.Backoff
	for ctx.Err() == nil {
		updates, err := b.getUpdates(ctx, offset, a.opts.PollTimeout)
		if err == nil {
			updates = slices.DeleteFunc(updates, func(in incoming) bool { return in.u.ID < offset }) // handed over before a restart
			if len(updates) > 0 && a.outbox != nil {
				err = a.journal(ctx, b, updates, key, updates[len(updates)-1].u.ID+1)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			pause := wait
			if flood := (*bot.TooManyRequestsError)(nil); errors.As(err, &flood) {
				pause = time.Duration(flood.RetryAfter) * time.Second
			}
			a.log.Warn("getUpdates failed; retrying", "bot", b.cfg.Name, "in", pause, "err", err)
			if ratelimit.Sleep(ctx, pause) != nil {
				return
			}
			wait = min(2*wait, ratelimit.MaxBackoff)
			continue
		}
		wait = ratelimit.Backoff
		for _, in := range updates {
			if err := a.dispatch(ctx, b, in.u); err != nil {
				if ctx.Err() != nil {
					return // not confirmed (or journaled): handed over again after a restart
				}
				a.dropped(b, in.u, err)
			}
			offset = in.u.ID + 1
		}
		if len(updates) > 0 && a.outbox == nil {
			a.saveOffset(ctx, key, offset)
		}
	}
}

// journal writes updates to the Outbox's journal, with the bot's next
// offset when key is set, and returns once they are durable.
func (a *Adapter) journal(ctx context.Context, b *botRunner, updates []incoming, key string, next int64) error {
	items := make([]store.Inbound, len(updates))
	for i, in := range updates {
		items[i] = store.Inbound{ID: in.u.ID, Payload: in.raw}
	}
	value := ""
	if key != "" {
		value = strconv.FormatInt(next, 10)
	}
	return a.outbox.InboundAdd(ctx, Platform, b.cfg.Name, items, key, value)
}

// replay hands over the updates a crash left in the journal, oldest first,
// before the bot receives new ones.
func (a *Adapter) replay(ctx context.Context, b *botRunner) error {
	if a.outbox == nil {
		return nil
	}
	pending, err := a.outbox.InboundPending(ctx, Platform, b.cfg.Name)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		a.log.Info("handling updates left over from before a restart", "bot", b.cfg.Name, "updates", len(pending))
	}
	for _, p := range pending {
		u := new(models.Update)
		if err := json.Unmarshal(p.Payload, u); err != nil {
			a.dropped(b, &models.Update{ID: p.ID}, fmt.Errorf("unreadable journal entry: %w", err))
			continue
		}
		if err := a.dispatch(ctx, b, u); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.dropped(b, u, err)
		}
	}
	return nil
}

// dropped gives up on an update that could not be handed over.
func (a *Adapter) dropped(b *botRunner, u *models.Update, err error) {
	a.log.Warn("update dropped", "bot", b.cfg.Name, "update_id", u.ID, "err", err)
	if a.outbox != nil {
		a.outbox.InboundHandled(Platform, b.cfg.Name, u.ID)
	}
}

func (a *Adapter) loadOffset(ctx context.Context, key string) int64 {
	if a.opts.Checkpoints == nil {
		return 0
	}
	v, ok, err := a.opts.Checkpoints.Checkpoint(ctx, key)
	if err != nil {
		a.log.Warn("could not read the update offset; starting from Telegram's", "key", key, "err", err)
	}
	if !ok {
		return 0
	}
	offset, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		a.log.Warn("bad update offset checkpoint ignored", "key", key, "value", v)
	}
	return offset
}

func (a *Adapter) saveOffset(ctx context.Context, key string, offset int64) {
	if a.opts.Checkpoints == nil {
		return
	}
	if err := a.opts.Checkpoints.SetCheckpoint(ctx, key, strconv.FormatInt(offset, 10)); err != nil && ctx.Err() == nil {
		a.log.Warn("could not save the update offset", "key", key, "err", err)
	}
}

// getUpdates makes one long poll. Errors carry the client library's error
// values (bot.ErrorUnauthorized, *bot.TooManyRequestsError, …) and never the
// token, which is part of the URL.
func (b *botRunner) getUpdates(ctx context.Context, offset int64, timeout time.Duration) ([]incoming, error) {
	body, err := json.Marshal(map[string]any{
		"offset":          offset,
		"timeout":         int(timeout / time.Second),
		"allowed_updates": allowedUpdates,
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.cfg.APIURL+"/bot"+string(b.cfg.Token)+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, chat.Redact(err, b.cfg.Token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.poll.Do(req)
	if err != nil {
		return nil, chat.Redact(err, b.cfg.Token)
	}
	answer, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("getUpdates: HTTP %d: %w", resp.StatusCode, chat.Redact(err, b.cfg.Token))
	}
	env, out, err := parseUpdates(answer)
	if err != nil {
		return nil, fmt.Errorf("getUpdates: HTTP %d: bad response: %w", resp.StatusCode, err)
	}
	if env.OK {
		return out, nil
	}
	switch env.ErrorCode {
	case http.StatusTooManyRequests:
		return nil, &bot.TooManyRequestsError{Message: env.Description, RetryAfter: max(env.Parameters.RetryAfter, 1)}
	case http.StatusUnauthorized:
		return nil, fmt.Errorf("getUpdates: %w: %s", bot.ErrorUnauthorized, env.Description)
	case http.StatusConflict: // another poller, or a webhook is set
		return nil, fmt.Errorf("getUpdates: %w: %s", bot.ErrorConflict, env.Description)
	}
	return nil, fmt.Errorf("getUpdates: %d %s", env.ErrorCode, env.Description)
}

// readBody reads an answer whole, so that its connection is reused: into
// a buffer of its announced length when it has one.
func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	n := resp.ContentLength
	if n < 0 || n > maxPrealloc {
		return io.ReadAll(resp.Body)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return nil, err
	}
	// To the end (net/http reports it with the last bytes, or now).
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) //nolint:errcheck // only to reuse the connection
	return buf, nil
}

// maxPrealloc bounds what an announced length may allocate up front.
const maxPrealloc = 4 << 20

// envelope is a getUpdates answer but its result.
type envelope struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// parseUpdates reads a getUpdates answer, parsing each update once: each
// is decoded where it lies in body, which keeps its JSON (raw, a slice of
// body) for the journal. (Decoding the result as raw messages first, then
// each of them, went over every update twice, and json.Unmarshal checks
// its input before decoding it: four passes instead of two.)
func parseUpdates(body []byte) (envelope, []incoming, error) {
	var env envelope
	var out []incoming
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil {
		return env, nil, err
	} else if t != json.Delim('{') {
		return env, nil, fmt.Errorf("not an object: %v", t)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return env, nil, err
		}
		switch t {
		case "ok":
			err = dec.Decode(&env.OK)
		case "error_code":
			err = dec.Decode(&env.ErrorCode)
		case "description":
			err = dec.Decode(&env.Description)
		case "parameters":
			err = dec.Decode(&env.Parameters)
		case "result":
			out, err = decodeResult(dec, body)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return env, nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return env, nil, err
	}
	return env, out, nil
}

// decodeResult decodes the result array dec is at, body being dec's whole
// input; a result that is not an array (null, or a failure's) is skipped.
func decodeResult(dec *json.Decoder, body []byte) ([]incoming, error) {
	if !bytes.HasPrefix(bytes.TrimLeft(body[dec.InputOffset():], ": \t\r\n"), []byte("[")) {
		var skip json.RawMessage
		return nil, dec.Decode(&skip)
	}
	if _, err := dec.Token(); err != nil { // [
		return nil, err
	}
	var out []incoming
	for dec.More() {
		start := dec.InputOffset()
		u := new(models.Update)
		if err := dec.Decode(u); err != nil {
			return nil, fmt.Errorf("bad update: %w", err)
		}
		// From the end of the previous value: its comma and spaces, then
		// the update.
		raw := bytes.TrimLeft(body[start:dec.InputOffset()], ", \t\r\n")
		out = append(out, incoming{u: u, raw: raw})
	}
	_, err := dec.Token() // ]
	return out, err
}
