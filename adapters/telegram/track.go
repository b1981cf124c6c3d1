package telegram

import (
	"strconv"

	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/adapters/outbox"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// tracker knows which update a scope's application is handling (see
// outbox.Tracker), so that with an Outbox its actions are keyed by that
// update — a replay of it after a crash then writes the same keys and
// sends nothing twice — and so that the update leaves the journal once the
// application has moved on.
type tracker = outbox.Tracker

func newTracker() *tracker { return outbox.NewTracker(updateKey) }

// updateKey names the update an event came from: its id, "" for other
// events.
func updateKey(ev core.Event) string {
	if id := updateID(ev); id != 0 {
		return strconv.FormatInt(id, 10)
	}
	return ""
}

// updateID is the id of the update an event came from, 0 for other events.
func updateID(ev core.Event) int64 {
	var u *models.Update
	switch ev := ev.(type) {
	case *chat.Message:
		u, _ = ev.Raw.(*models.Update)
	case *chat.Edited:
		u, _ = ev.Raw.(*models.Update)
	case CallbackQuery:
		u = ev.Raw
	case MemberUpdate:
		u = ev.Raw
	case Update:
		u = ev.Raw
	}
	if u == nil {
		return 0
	}
	return u.ID
}

// track wraps the application so that each scope's events pass through its
// tracker (scopes without one run unwrapped), and handled updates leave the
// journal.
func (a *Adapter) track(app core.Application) core.Application {
	return outbox.Track(app, func(scope *core.Scope) *tracker {
		v, _ := a.trackers.Load(scope)
		tr, _ := v.(*tracker)
		return tr
	}, func(scope *core.Scope, update string) {
		id, _ := strconv.ParseInt(update, 10, 64)
		a.outbox.InboundHandled(Platform, scope.Bot, id)
	})
}
