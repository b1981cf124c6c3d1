package telegram

import (
	"context"
	"strconv"
	"sync"

	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// tracker knows which update a scope's application is handling, so that
// (with an Outbox) its actions are keyed by that update — a replay of it
// after a crash then writes the same keys and sends nothing twice — and so
// that the update leaves the journal once the application has moved on.
//
// The application reads its events from a channel the tracker's pump feeds
// one at a time, unbuffered: the application taking event N+1 is the proof
// that it finished N. The pump alone owns "current" and answers the
// application's questions about it in the same select loop, so an action
// can never be attributed to the update before the one being handled.
type tracker struct {
	ask     chan chan int64
	stopped chan struct{}

	mu     sync.Mutex // guards the action count, in case a consumer sends from several goroutines
	update int64      // the update the last key was for
	seq    int        // actions keyed for it so far

	last int64 // the update being handled when the pump stopped; read after it has
}

func newTracker() *tracker {
	return &tracker{ask: make(chan chan int64), stopped: make(chan struct{})}
}

// current returns the update being handled, 0 for none (the scope's
// greeting, a layer message, a disconnect).
func (tr *tracker) current() int64 {
	reply := make(chan int64, 1)
	select {
	case tr.ask <- reply:
		return <-reply
	case <-tr.stopped:
		return 0
	}
}

// nextKey is the dedupe key of the application's next action: "<update>:<n>"
// for its n-th action while handling an update, "" outside one. (The
// outbox prefixes the bot's Telegram id.) (The
// outbox prefixes the bot's Telegram id.)
func (tr *tracker) nextKey() string {
	if tr == nil {
		return ""
	}
	u := tr.current()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if u == 0 {
		return ""
	}
	if u != tr.update {
		tr.update, tr.seq = u, 0
	}
	tr.seq++
	return strconv.FormatInt(u, 10) + ":" + strconv.Itoa(tr.seq-1)
}

// pump hands the events of inbox to out one at a time until ctx ends, and
// calls handled for every update the application has finished with.
func (tr *tracker) pump(ctx context.Context, inbox core.Inbox, out chan<- core.Event, handled func(int64)) {
	defer close(tr.stopped)
	var (
		cur  int64
		held core.Event // taken from the inbox, not yet taken by the application
	)
	defer func() { tr.last = cur }()
	for {
		var give chan<- core.Event // nil (never ready) while nothing is held
		var take core.Inbox = inbox
		if held != nil {
			give, take = out, nil
		}
		select {
		case ev := <-take:
			held = ev
		case give <- held:
			if cur != 0 {
				handled(cur)
			}
			cur, held = updateID(held), nil
		case reply := <-tr.ask:
			reply <- cur
		case <-ctx.Done():
			return
		}
	}
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
// tracker (found by scope; scopes without one run unwrapped).
func (a *Adapter) track(app core.Application) core.Application {
	return core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		v, ok := a.trackers.Load(scope)
		if !ok {
			return app.Serve(ctx, scope, inbox, send)
		}
		tr := v.(*tracker)
		handled := a.handledFunc(scope.Bot)
		pumpCtx, cancel := context.WithCancel(ctx)
		out := make(chan core.Event)
		var wg sync.WaitGroup
		wg.Go(func() { tr.pump(pumpCtx, inbox, out, handled) })
		err := app.Serve(ctx, scope, out, send)
		cancel()
		wg.Wait()
		// An application that returned by itself is done with its update;
		// one stopped mid-way (the hub shutting down) handles it again
		// after the restart, without repeating its actions.
		if tr.last != 0 && ctx.Err() == nil {
			handled(tr.last)
		}
		return err
	})
}

// handledFunc removes a bot's handled updates from the journal.
func (a *Adapter) handledFunc(bot string) func(int64) {
	return func(id int64) { a.outbox.InboundHandled(Platform, bot, id) }
}
