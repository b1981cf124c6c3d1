package discord

import (
	"context"
	"errors"

	"github.com/hubhq/hub/adapters/chatscope"
	"github.com/hubhq/hub/adapters/outbox"
	"github.com/hubhq/hub/core"
)

// errNotRunning refuses events outside Run (during shutdown).
var errNotRunning = errors.New("discord: adapter not running")

// conversation is what a scope is opened for: a bot's channel.
type conversation struct {
	bot    *botRunner
	target target
}

// newScopes is the adapter's table of open conversation scopes.
func (a *Adapter) newScopes() *chatscope.Table[conversation] {
	return chatscope.New(chatscope.Config[conversation]{
		Idle:       a.opts.IdleTimeout,
		Grace:      stopGrace,
		NotRunning: errNotRunning,
		Log:        a.log,
		Start:      a.start,
		Ended: func(inst *core.Instance, c conversation) {
			a.trackers.Delete(inst.Scope())
			c.bot.limit.Forget(c.target.channel)
		},
	})
}

// dispatch delivers an event to its conversation's scope, opening it if
// needed.
func (a *Adapter) dispatch(ctx context.Context, b *botRunner, t target, ev core.Event) error {
	return a.scopes.Dispatch(ctx, t.key(b.cfg.Name), conversation{bot: b, target: t}, ev)
}

// start runs a new instance for a conversation.
func (a *Adapter) start(running context.Context, key string, c conversation) (*core.Instance, error) {
	b, t := c.bot, c.target
	scope := &core.Scope{
		Type:  Platform,
		Key:   key,
		Bot:   b.cfg.Name,
		Extra: map[string]any{"channel_id": t.channel, "thread_parent_id": t.parent, "guild_id": t.guild},
	}
	r := &reactions{}
	var tr *outbox.Tracker
	if a.outbox != nil {
		tr = outbox.NewTracker(eventKey)
		a.trackers.Store(scope, tr)
	}
	inst, err := a.rt.Start(running, scope, func(ctx context.Context, ev core.Event) error {
		return a.performKeyed(ctx, b, t, r, tr.NextKey(), ev)
	})
	if err != nil {
		a.trackers.Delete(scope)
		return nil, err
	}
	return inst, nil
}
