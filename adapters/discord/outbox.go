package discord

import (
	"context"
	"strconv"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/hubhq/hub/adapters/outbox"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// courier makes one bot's outbox calls (see package outbox): one queue per
// channel, in order, channels in parallel; an interaction's answer has a
// queue of its own, since it is due within three seconds.
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
		Queue:   action.queue,
		RetryAt: func(act action, err error) (time.Time, bool) { return b.limit.RetryAt(act.call(), err) },
	})
}

// startSending starts each bot's courier with the calls a crash left
// unsent, and returns what stops them: after the scopes, whose last words
// (a farewell on shutdown) still go out.
func (a *Adapter) startSending(ctx context.Context) (stop func(), err error) {
	if a.outbox == nil {
		return func() {}, nil
	}
	return outbox.Start(ctx, a.outbox, a.log, func(ctx context.Context) (out []*courier) {
		for _, b := range a.bots {
			b.out = newCourier(ctx, a, b)
			out = append(out, b.out)
		}
		return out
	})
}

// track wraps the application so that each scope's events pass through its
// tracker, which keys the scope's actions by the event being handled.
func (a *Adapter) track(app core.Application) core.Application {
	return outbox.Track(app, func(scope *core.Scope) *outbox.Tracker {
		v, _ := a.trackers.Load(scope)
		tr, _ := v.(*outbox.Tracker)
		return tr
	}, nil)
}

// eventKey names the gateway event an event came from, for dedupe keys: a
// new message by its id, an edit by the message and the edit's time, a
// deletion and an interaction by their ids. A reaction has no id of its own
// — adding one twice makes equal events — so the actions taken for one are
// not keyed.
func eventKey(ev core.Event) string {
	switch ev := ev.(type) {
	case *chat.Message:
		if m, ok := ev.Raw.(*discordgo.MessageCreate); ok {
			return "m" + m.ID
		}
	case *chat.Edited:
		if m, ok := ev.Raw.(*discordgo.MessageUpdate); ok && m.EditedTimestamp != nil {
			return "e" + m.ID + "@" + strconv.FormatInt(m.EditedTimestamp.UnixMilli(), 10)
		}
	case MessageDelete:
		return "d" + ev.ID
	case Interaction:
		return "i" + ev.ID
	}
	return ""
}
