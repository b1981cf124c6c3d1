package telegram

import (
	"context"
	"errors"

	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/adapters/chatscope"
	"github.com/hubhq/hub/core"
)

// errNotRunning refuses updates outside Run (a webhook request before Run
// or during shutdown): Telegram will deliver them again.
var errNotRunning = errors.New("telegram: adapter not running")

// conversation is what a scope is opened for: a bot's chat.
type conversation struct {
	bot    *botRunner
	target target
}

// newScopes is the adapter's table of open chat scopes. Updates already
// accepted go in before a closing scope's Disconnect.
func (a *Adapter) newScopes() *chatscope.Table[conversation] {
	return chatscope.New(chatscope.Config[conversation]{
		Idle:       a.opts.IdleTimeout,
		Grace:      stopGrace,
		DrainFirst: true,
		NotRunning: errNotRunning,
		Log:        a.log,
		Start:      a.start,
		Ended: func(inst *core.Instance, c conversation) {
			a.trackers.Delete(inst.Scope())
			c.bot.limit.Forget(chatKey{chat: c.target.chat, group: c.target.group})
		},
	})
}

// dispatch delivers an update to its chat's scope, opening it if needed.
// Updates about no chat (inline queries, polls) are ignored.
func (a *Adapter) dispatch(ctx context.Context, b *botRunner, u *models.Update) error {
	// Checked first: a webhook may be called before Run has learnt the
	// bot's username, which event needs.
	if !a.scopes.Running() {
		return errNotRunning
	}
	ev, t, ok := b.event(u)
	if !ok {
		a.log.Debug("update about no chat ignored", "bot", b.cfg.Name, "update_id", u.ID)
		if a.outbox != nil {
			a.outbox.InboundHandled(Platform, b.cfg.Name, u.ID)
		}
		return nil
	}
	return a.scopes.Dispatch(ctx, t.key(b.cfg.Name), conversation{bot: b, target: t}, ev)
}

// start runs a new instance for a chat.
func (a *Adapter) start(running context.Context, key string, c conversation) (*core.Instance, error) {
	b, t := c.bot, c.target
	scope := &core.Scope{
		Type:  Platform,
		Key:   key,
		Bot:   b.cfg.Name,
		Extra: map[string]any{"chat_id": t.chat, "thread_id": t.thread},
	}
	var tr *tracker
	if a.outbox != nil {
		tr = newTracker()
		a.trackers.Store(scope, tr)
	}
	inst, err := a.rt.Start(running, scope, func(ctx context.Context, ev core.Event) error {
		return a.perform(ctx, b, t, tr, ev)
	})
	if err != nil {
		a.trackers.Delete(scope)
		return nil, err
	}
	return inst, nil
}
