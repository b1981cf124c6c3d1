package telegram

import (
	"context"
	"strconv"
	"time"

	"github.com/hubhq/hub/adapters/outbox"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/store"
)

// Outbox is the durable side of the adapter: the outbox of Bot API calls
// with its attempt journal, and the journal of updates not yet handled.
// Package store implements it.
type Outbox interface {
	Checkpoints
	outbox.Store
	InboundAdd(ctx context.Context, platform, bot string, updates []store.Inbound, checkpointKey, checkpointValue string) error
	InboundPending(ctx context.Context, platform, bot string) ([]store.Inbound, error)
	InboundHandled(platform, bot string, id int64)
}

var _ Outbox = (*store.DB)(nil)

// action is a Bot API call as the outbox stores it: everything needed to
// make it again after a restart.
type action struct {
	Kind       string `json:"kind"`
	Chat       int64  `json:"chat,omitempty"`
	Thread     int    `json:"thread,omitempty"`
	Group      bool   `json:"group,omitempty"`
	Text       string `json:"text,omitempty"`
	ReplyTo    string `json:"reply_to,omitempty"`
	MessageID  string `json:"message_id,omitempty"`
	Emoji      string `json:"emoji,omitempty"`
	CallbackID string `json:"callback_id,omitempty"`
	ShowAlert  bool   `json:"show_alert,omitempty"`
}

// courier makes one bot's outbox calls (see package outbox): one queue per
// chat, in order, chats in parallel.
type courier = outbox.Courier[action]

func newCourier(ctx context.Context, a *Adapter, b *botRunner) *courier {
	return outbox.New(ctx, outbox.Config[action]{
		Platform: Platform,
		Bot:      b.cfg.Name,
		Store:    a.outbox,
		Log:      a.log,
		Links:    a.links,
		Send: func(ctx context.Context, act action) (string, error) {
			result, err := b.send(ctx, act)
			return result, chat.Redact(err, b.cfg.Token)
		},
		Queue:   func(act action) string { return strconv.FormatInt(act.Chat, 10) },
		RetryAt: func(act action, err error) (time.Time, bool) { return b.limit.RetryAt(act.call(), err) },
	})
}

// performDurably makes an action through the bot's outbox (see
// outbox.Courier.Do), keyed by the update being handled, if any.
func (a *Adapter) performDurably(ctx context.Context, b *botRunner, call outbox.Call, act action) (string, error) {
	if call.Dedupe != "" {
		// Update ids are per Telegram bot: if the token under this name
		// changes to another bot, its ids must not meet the old one's keys.
		call.Dedupe = strconv.FormatInt(b.id, 10) + ":" + call.Dedupe
	}
	return b.out.Do(ctx, call, act)
}
