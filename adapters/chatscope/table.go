package chatscope

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// Config is what an adapter tells its table; T is its conversation target.
type Config[T any] struct {
	// Idle is how long a scope lives without an event.
	Idle time.Duration
	// Grace is how long a closing scope's application has to return.
	Grace time.Duration
	// DrainFirst lets events already accepted into a closing scope in
	// before its Disconnect, which then comes last.
	DrainFirst bool
	// NotRunning refuses events outside Begin…Shutdown.
	NotRunning error
	Log        *slog.Logger
	// Start runs the instance for a new scope, under running, the
	// context given to Begin. The table is locked meanwhile.
	Start func(running context.Context, key string, t T) (*core.Instance, error)
	// Ended, if set, is called once a scope's instance has ended, however
	// it ended, before the scope's key can be opened again.
	Ended func(inst *core.Instance, t T)
}

// Table holds the open scopes of one adapter.
type Table[T any] struct {
	cfg Config[T]

	mu      sync.Mutex
	running context.Context // the scopes' context while running, else nil
	scopes  map[string]*scope[T]
	wg      sync.WaitGroup // one per live scope
}

// scope is one open conversation scope and its idle timer.
type scope[T any] struct {
	key    string
	target T
	inst   *core.Instance
	timer  *time.Timer
	gone   chan struct{} // closed once the instance ended and was forgotten

	// Guarded by Table.mu.
	last     time.Time     // last event
	inflight int           // events being delivered: not idle
	closing  bool          // no more events are let in
	drained  chan struct{} // closed when inflight falls to 0 while closing
}

// New returns an empty table, not yet running.
func New[T any](cfg Config[T]) *Table[T] {
	return &Table[T]{cfg: cfg, scopes: make(map[string]*scope[T])}
}

// Begin lets events in; scopes run under ctx. It reports false if the
// table is running already.
func (tb *Table[T]) Begin(ctx context.Context) bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.running != nil {
		return false
	}
	tb.running = ctx
	return true
}

// Running reports whether events are let in.
func (tb *Table[T]) Running() bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.running != nil
}

// Dispatch delivers an event to the scope of key, opening it if needed.
func (tb *Table[T]) Dispatch(ctx context.Context, key string, t T, ev core.Event) error {
	for {
		s, err := tb.open(ctx, key, t)
		if err != nil {
			return err
		}
		err = s.inst.Deliver(ctx, ev)
		tb.mu.Lock()
		s.inflight--
		s.last = time.Now() // idle from when the event got in, however long that took
		if s.inflight == 0 && s.drained != nil {
			close(s.drained)
			s.drained = nil
		}
		tb.mu.Unlock()
		if !errors.Is(err, core.ErrScopeClosed) {
			return err
		}
		// The application returned just now: start a fresh instance.
		if err := waitGone(ctx, s); err != nil {
			return err
		}
	}
}

// open returns the live scope of key, starting one on first contact. It
// marks an event in flight, so the scope cannot go idle under it.
func (tb *Table[T]) open(ctx context.Context, key string, t T) (*scope[T], error) {
	for {
		tb.mu.Lock()
		if tb.running == nil {
			tb.mu.Unlock()
			return nil, tb.cfg.NotRunning
		}
		s := tb.scopes[key]
		if s == nil {
			var err error
			if s, err = tb.start(key, t); err != nil {
				tb.mu.Unlock()
				return nil, err
			}
		}
		if !s.closing {
			s.last = time.Now()
			s.inflight++
			tb.mu.Unlock()
			return s, nil
		}
		tb.mu.Unlock()
		if err := waitGone(ctx, s); err != nil { // the old instance is closing
			return nil, err
		}
	}
}

// start runs a new instance for a conversation. Callers hold tb.mu.
func (tb *Table[T]) start(key string, t T) (*scope[T], error) {
	inst, err := tb.cfg.Start(tb.running, key, t)
	if err != nil {
		return nil, err
	}
	s := &scope[T]{key: key, target: t, inst: inst, gone: make(chan struct{}), last: time.Now()}
	s.timer = time.AfterFunc(tb.cfg.Idle, func() { tb.expire(s) })
	tb.scopes[key] = s
	tb.wg.Add(1)
	go tb.watch(s)
	return s, nil
}

// watch forgets a scope once its instance has ended, however it ended.
func (tb *Table[T]) watch(s *scope[T]) {
	defer tb.wg.Done()
	<-s.inst.Done()
	s.timer.Stop()
	tb.mu.Lock()
	if tb.scopes[s.key] == s {
		delete(tb.scopes, s.key)
	}
	tb.mu.Unlock()
	if tb.cfg.Ended != nil {
		tb.cfg.Ended(s.inst, s.target)
	}
	close(s.gone)
}

// expire closes a scope that had no event for Idle, or sets its timer
// again for the time left.
func (tb *Table[T]) expire(s *scope[T]) {
	tb.mu.Lock()
	if s.closing || tb.scopes[s.key] != s { // closing, or already ended
		tb.mu.Unlock()
		return
	}
	if left := tb.cfg.Idle - time.Since(s.last); left > 0 || s.inflight > 0 {
		if left <= 0 { // an event is waiting for room in the inbox
			left = tb.cfg.Idle
		}
		s.timer.Reset(left)
		tb.mu.Unlock()
		return
	}
	tb.mu.Unlock()
	tb.close(s, "idle")
}

// close ends a scope: its application gets a chat.Disconnect and a grace
// period to return, then it is cancelled.
func (tb *Table[T]) close(s *scope[T], reason string) {
	tb.mu.Lock()
	if s.closing {
		tb.mu.Unlock()
		return
	}
	s.closing = true
	var drained chan struct{}
	if tb.cfg.DrainFirst && s.inflight > 0 {
		drained = make(chan struct{})
		s.drained = drained
	}
	tb.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), tb.cfg.Grace)
	defer cancel()
	if drained != nil { // let events already accepted in first: Disconnect comes last
		select {
		case <-drained:
		case <-ctx.Done():
		}
	}
	if err := s.inst.Deliver(ctx, chat.Disconnect{Reason: reason}); err != nil && !errors.Is(err, core.ErrScopeClosed) {
		tb.cfg.Log.Warn("could not deliver disconnect", "scope", s.key, "err", err)
	}
	s.inst.Stop(tb.cfg.Grace)
}

// Shutdown stops letting events in, closes every open scope and waits for
// their instances to end.
func (tb *Table[T]) Shutdown() {
	tb.mu.Lock()
	tb.running = nil
	open := make([]*scope[T], 0, len(tb.scopes))
	for _, s := range tb.scopes {
		open = append(open, s)
	}
	tb.mu.Unlock()
	for _, s := range open {
		go tb.close(s, "shutdown")
	}
	tb.wg.Wait()
}

func waitGone[T any](ctx context.Context, s *scope[T]) error {
	select {
	case <-s.gone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
