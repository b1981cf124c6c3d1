package outbox

import (
	"context"
	"strconv"
	"sync"

	"github.com/hubhq/hub/core"
)

// Tracker knows which event a scope's application is handling, so that its
// actions are keyed by that event (NextKey): handled again — redelivered by
// the platform, or replayed after a crash — the event's actions write the
// same keys, and Courier.Do makes none of them twice.
//
// The application reads its events from a channel the tracker's pump feeds
// one at a time, unbuffered: the application taking event N+1 is the proof
// that it finished N. The pump alone owns "current" and answers the
// application's questions about it in the same select loop, so an action
// can never be attributed to the event before the one being handled.
type Tracker struct {
	key     func(core.Event) string // names an event; "" for none
	ask     chan chan delivery
	stopped chan struct{}

	mu    sync.Mutex // guards the action count, in case a consumer sends from several goroutines
	event delivery   // the delivery the last key was for
	seq   int        // actions keyed for it so far

	last string // the event being handled when the pump stopped; read after it has
}

// delivery is an event as the application took it: the same event
// delivered twice in a row is two deliveries, whose actions are keyed
// alike.
type delivery struct {
	key string
	n   uint64
}

// NewTracker makes a scope's tracker; key names each event that actions
// should be keyed by ("" for the others: a greeting, a layer message, a
// disconnect). Names must be unique per bot.
func NewTracker(key func(core.Event) string) *Tracker {
	return &Tracker{key: key, ask: make(chan chan delivery), stopped: make(chan struct{})}
}

// current returns the event being handled; its key is "" for none.
func (tr *Tracker) current() delivery {
	reply := make(chan delivery, 1)
	select {
	case tr.ask <- reply:
		return <-reply
	case <-tr.stopped:
		return delivery{}
	}
}

// NextKey is the dedupe key of the application's next action: "<event>:<n>"
// for its n-th action while handling an event, "" outside one (and for a
// nil Tracker).
func (tr *Tracker) NextKey() string {
	if tr == nil {
		return ""
	}
	d := tr.current()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if d.key == "" {
		return ""
	}
	if d != tr.event {
		tr.event, tr.seq = d, 0
	}
	tr.seq++
	return d.key + ":" + strconv.Itoa(tr.seq-1)
}

// pump hands the events of inbox to out one at a time until ctx ends, and
// calls handled for every event the application has finished with.
func (tr *Tracker) pump(ctx context.Context, inbox core.Inbox, out chan<- core.Event, handled func(string)) {
	defer close(tr.stopped)
	var (
		cur  delivery
		held core.Event // taken from the inbox, not yet taken by the application
	)
	defer func() { tr.last = cur.key }()
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
			if cur.key != "" {
				handled(cur.key)
			}
			cur, held = delivery{key: tr.key(held), n: cur.n + 1}, nil
		case reply := <-tr.ask:
			reply <- cur
		case <-ctx.Done():
			return
		}
	}
}

// Track wraps app so that the events of a scope with a tracker (found by
// find; nil for none) pass through it. handled, if not nil, is told each
// event the scope's application has finished with: when it takes the next
// one, or returns by itself — one stopped mid-way (the hub shutting down)
// has not, and handles it again after a restart without repeating its
// actions.
func Track(app core.Application, find func(*core.Scope) *Tracker, handled func(scope *core.Scope, event string)) core.Application {
	return core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		tr := find(scope)
		if tr == nil {
			return app.Serve(ctx, scope, inbox, send)
		}
		done := func(event string) {
			if handled != nil {
				handled(scope, event)
			}
		}
		pumpCtx, cancel := context.WithCancel(ctx)
		out := make(chan core.Event)
		var wg sync.WaitGroup
		wg.Go(func() { tr.pump(pumpCtx, inbox, out, done) })
		err := app.Serve(ctx, scope, out, send)
		cancel()
		wg.Wait()
		if tr.last != "" && ctx.Err() == nil {
			done(tr.last)
		}
		return err
	})
}
