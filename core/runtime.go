package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubhq/hub/core/layer"
)

// InboxPolicy says what happens when an event arrives for an instance whose
// inbox is full. None of them is silent: drops and closes are counted.
type InboxPolicy int

const (
	// Block makes the sender wait for room: the adapter stops reading from
	// that one client (TCP backpressure) and layer messages back up into
	// their channel, where further sends fail with layer.ErrChannelFull.
	Block InboxPolicy = iota
	// DropOldest discards the oldest queued event to make room, and counts it.
	DropOldest
	// CloseScope ends the scope with ErrInboxFull: for protocols where a
	// client that floods should be disconnected.
	CloseScope
)

// String names the policy as the config file does.
func (p InboxPolicy) String() string {
	switch p {
	case DropOldest:
		return "drop_oldest"
	case CloseScope:
		return "close"
	default:
		return "block"
	}
}

// ParseInboxPolicy reads "block", "drop_oldest" or "close".
func ParseInboxPolicy(s string) (InboxPolicy, error) {
	for _, p := range []InboxPolicy{Block, DropOldest, CloseScope} {
		if p.String() == s {
			return p, nil
		}
	}
	return Block, fmt.Errorf("core: unknown inbox policy %q (want block, drop_oldest or close)", s)
}

// DefaultInboxSize is an instance's inbox capacity unless configured.
const DefaultInboxSize = 16

// ErrInboxFull ends a scope whose inbox overflowed under the CloseScope policy.
var ErrInboxFull = errors.New("core: inbox full")

// Metrics counts what the runtime does; it is safe for concurrent use and
// is read by the hub's /metrics endpoint.
type Metrics struct {
	Opened  atomic.Int64 // scopes started
	Closed  atomic.Int64 // scopes ended, for any reason
	Failed  atomic.Int64 // scopes whose application returned an error
	Panics  atomic.Int64 // scopes whose application panicked
	Dropped atomic.Int64 // events dropped by DropOldest
	Full    atomic.Int64 // scopes closed by CloseScope
}

// Live is the number of running instances.
func (m *Metrics) Live() int64 { return m.Opened.Load() - m.Closed.Load() }

// Runtime starts and supervises application instances, one per scope.
type Runtime struct {
	App       Application
	Layer     layer.Layer // nil: no channel layer
	Store     StateStore  // nil: scopes have no persistent state
	InboxSize int         // 0: DefaultInboxSize
	Policy    InboxPolicy
	Logger    *slog.Logger // nil: slog.Default()
	Metrics   *Metrics     // nil: nothing is counted
}

// Instance is one running application for one scope.
type Instance struct {
	scope  *Scope
	inbox  chan Event
	policy InboxPolicy
	cancel context.CancelCauseFunc
	done   chan struct{}
	err    error // set before done is closed
	rt     *Runtime
	mu     sync.Mutex // serialises DropOldest delivery

	ctx       context.Context // the instance's, for layer delivery
	watcher   layer.Watcher   // set when the layer can kick instead of being polled
	stopWatch func()
	kicks     atomic.Int32 // layer kicks not yet drained; a drainer runs while > 0
}

// Start runs a new instance of the application for scope. It gives the scope
// its channel name, state and group tracking, and returns at once; the
// instance runs until the application returns, ctx is cancelled, or Stop.
func (r *Runtime) Start(ctx context.Context, scope *Scope, send SendFunc) (*Instance, error) {
	size := r.InboxSize
	if size <= 0 {
		size = DefaultInboxSize
	}
	ictx, cancel := context.WithCancelCause(ctx)
	scope.Layer = r.Layer
	scope.groups = new(groupSet)
	own := r.Layer != nil && scope.Channel == "" // workers come with a fixed channel
	if own {
		name, err := r.Layer.NewChannel(ictx, "specific")
		if err != nil {
			cancel(err)
			return nil, fmt.Errorf("core: start %s: %w", scope.Key, err)
		}
		scope.Channel = name
	}
	if scope.State == nil {
		scope.State = NewState(ictx, r.Store, "", scope.Key)
	}
	in := &Instance{scope: scope, inbox: make(chan Event, size), policy: r.Policy, cancel: cancel, done: make(chan struct{}), rt: r, ctx: ictx}
	r.metrics().Opened.Add(1)
	if t, ok := r.Store.(ScopeTracker); ok {
		t.ScopeOpened(scope.Key, scope.Type)
	}
	// Watch before run starts, so run's cleanup always sees the watch. Only
	// the channels NewChannel made are local to this process; a fixed
	// worker channel may be fed from anywhere, so it is read with Receive.
	if w, ok := r.Layer.(layer.Watcher); ok && own {
		in.watcher = w
		in.stopWatch = w.Watch(scope.Channel, in.kick)
	} else if r.Layer != nil {
		go in.pump(ictx)
	}
	go in.run(ictx, send)
	return in, nil
}

// metrics returns where to count. The runtime never writes its own fields,
// so one Runtime can start scopes from many goroutines.
func (r *Runtime) metrics() *Metrics {
	if r.Metrics != nil {
		return r.Metrics
	}
	return &uncounted
}

// uncounted absorbs the counts of a runtime that shares no Metrics.
var uncounted Metrics

func (r *Runtime) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// run is the instance's goroutine: it serves the scope and, whatever way the
// application ends, leaves its groups and reports the end.
func (in *Instance) run(ctx context.Context, send SendFunc) {
	r, s := in.rt, in.scope
	defer func() {
		if p := recover(); p != nil {
			in.err = fmt.Errorf("core: panic in %s: %v", s.Key, p)
			r.metrics().Panics.Add(1)
			r.logger().Error("consumer panicked; scope ended", "scope", s.Key, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
		in.cleanup()
		in.cancel(ErrScopeClosed)
		close(in.done)
	}()
	// Routers are resolved first, so the consumer's loop runs right under
	// this goroutine's frame: an idle instance then keeps the smallest stack.
	app, rs, err := Resolve(r.App, s)
	if err == nil {
		err = app.Serve(ctx, rs, Inbox(in.inbox), send)
	}
	if cause := context.Cause(ctx); err != nil && errors.Is(err, context.Canceled) && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause // stopped for a reason (inbox full): report the reason
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		in.err = err
		r.metrics().Failed.Add(1)
		r.logger().Warn("scope ended with an error", "scope", s.Key, "err", err)
	}
}

// cleanup leaves every group the instance joined and records the close. It
// uses a fresh context: the instance's own may already be cancelled.
func (in *Instance) cleanup() {
	r, s := in.rt, in.scope
	if in.stopWatch != nil {
		in.stopWatch()
	}
	if r.Layer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, g := range s.groups.drain() {
			if err := r.Layer.GroupDiscard(ctx, g, s.Channel); err != nil {
				r.logger().Warn("could not leave group", "scope", s.Key, "group", g, "err", err)
			}
		}
		cancel()
	}
	if t, ok := r.Store.(ScopeTracker); ok {
		t.ScopeClosed(s.Key)
	}
	r.metrics().Closed.Add(1)
}

// pump moves the instance's channel-layer messages into its inbox, so the
// application reads both from one queue.
func (in *Instance) pump(ctx context.Context) {
	backoff := 10 * time.Millisecond
	for {
		msg, err := in.rt.Layer.Receive(ctx, in.scope.Channel)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			in.rt.logger().Warn("layer receive failed", "scope", in.scope.Key, "err", err)
			select {
			case <-time.After(backoff):
				backoff = min(2*backoff, 5*time.Second)
			case <-ctx.Done():
				return
			}
			continue
		}
		backoff = 10 * time.Millisecond
		if err := in.Deliver(ctx, msg); err != nil {
			return
		}
	}
}

// kick is the layer's signal that the instance's channel has messages. It
// starts a drainer unless one is running, so an idle instance has no
// goroutine waiting on the layer.
func (in *Instance) kick() {
	if in.kicks.Add(1) == 1 {
		go in.drain()
	}
}

// drain moves the channel's messages into the inbox until the channel is
// empty and no kick came in meanwhile; one drainer at a time keeps FIFO.
func (in *Instance) drain() {
	for {
		n := in.kicks.Load()
		for {
			msg, ok := in.watcher.TryReceive(in.scope.Channel)
			if !ok {
				break
			}
			if err := in.Deliver(in.ctx, msg); err != nil {
				in.kicks.Store(0) // the scope is over: what is left expires in the layer
				return
			}
		}
		if in.kicks.CompareAndSwap(n, 0) {
			return
		}
	}
}

// Scope returns the instance's scope.
func (in *Instance) Scope() *Scope { return in.scope }

// Done is closed when the instance has ended.
func (in *Instance) Done() <-chan struct{} { return in.done }

// Err is why the instance ended: nil for a normal return, else the
// application's error or panic. Valid once Done is closed.
func (in *Instance) Err() error {
	<-in.done
	return in.err
}

// Deliver puts an event in the instance's inbox, applying the runtime's
// policy when the inbox is full. It fails with ErrScopeClosed once the
// instance has ended.
func (in *Instance) Deliver(ctx context.Context, ev Event) error {
	select {
	case <-in.done:
		return ErrScopeClosed
	default:
	}
	switch in.policy {
	case DropOldest:
		return in.deliverDropOldest(ev)
	case CloseScope:
		select {
		case in.inbox <- ev:
			return nil
		case <-in.done:
			return ErrScopeClosed
		default:
			in.rt.metrics().Full.Add(1)
			in.rt.logger().Warn("inbox full; closing scope", "scope", in.scope.Key, "capacity", cap(in.inbox))
			in.cancel(ErrInboxFull)
			return ErrInboxFull
		}
	default:
		select {
		case in.inbox <- ev:
			return nil
		case <-in.done:
			return ErrScopeClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (in *Instance) deliverDropOldest(ev Event) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	for {
		select {
		case in.inbox <- ev:
			return nil
		case <-in.done:
			return ErrScopeClosed
		default:
		}
		select {
		case <-in.inbox:
			in.rt.metrics().Dropped.Add(1)
		default:
		}
	}
}

// Leftover drains and returns the events still queued when the instance
// ended, so a supervisor can hand them to the next instance instead of
// losing them. Call it only after Done is closed.
func (in *Instance) Leftover() []Event {
	<-in.done
	var out []Event
	for {
		select {
		case ev := <-in.inbox:
			out = append(out, ev)
		default:
			return out
		}
	}
}

// Stop ends the instance: it waits up to grace for the application to
// return by itself (after a disconnect event, say), then cancels its context
// and waits for it to finish.
func (in *Instance) Stop(grace time.Duration) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-in.done:
		return
	case <-t.C:
		in.rt.logger().Warn("application did not stop in time; cancelling", "scope", in.scope.Key, "grace", grace)
	}
	in.cancel(nil) // a deliberate stop is a normal end, not an error
	<-in.done
}
