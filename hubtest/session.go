package hubtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/websocket"
)

// session is what every communicator shares: one running instance, the
// actions it sent and not yet read, and the waits with deadlines. A
// communicator adds its protocol's part through the hooks, which play the
// adapter.
type session struct {
	t       testing.TB
	hub     *Hub
	label   string // the path or key, for failure messages
	scope   *core.Scope
	inst    *core.Instance
	timeout time.Duration
	ctx     context.Context // ends when the session is cleaned up
	cancel  context.CancelFunc
	started chan struct{} // closed once inst is set

	mu     sync.Mutex
	out    []core.Event  // actions the application sent, not yet read
	notify chan struct{} // signalled (capacity 1) when out grows or the scope ends
	ended  bool          // the application returned

	// onAction sees each action (mu held) and may answer it as the adapter
	// would; it returns the event to record.
	onAction func(ev core.Event) core.Event
	// onEnd runs (mu held) when the application returns, with its error.
	onEnd func(err error)
	// farewell returns the last event to give a still-running application
	// when the session stops — by the hub (Restart, cleanup) or because the
	// test is over — or nil.
	farewell func(byHub bool) core.Event
}

func newSession(h *Hub, o options, scope *core.Scope, label string) *session {
	for _, edit := range o.edit {
		edit(scope)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &session{t: h.t, hub: h, label: label, scope: scope, timeout: o.timeout,
		ctx: ctx, cancel: cancel, started: make(chan struct{}), notify: make(chan struct{}, 1)}
}

// start runs app for the session's scope; t.Cleanup stops it.
func (s *session) start(app core.Application, o options) {
	s.t.Helper()
	inst, err := s.hub.runtime(app, o).Start(s.ctx, s.scope, s.record)
	if err != nil {
		s.cancel()
		s.t.Fatalf("hubtest: start %s: %v", s.label, err)
	}
	s.inst = inst
	close(s.started)
	s.hub.track(s, true)
	go s.watch()
	s.t.Cleanup(func() { s.stop(false) })
}

// record is the application's SendFunc.
func (s *session) record(ctx context.Context, ev core.Event) error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return core.ErrScopeClosed
	}
	if s.onAction != nil {
		ev = s.onAction(ev)
	}
	if ev != nil {
		s.out = append(s.out, ev)
	}
	s.mu.Unlock()
	s.signal()
	return nil
}

// deliverLater gives the application an event from a goroutine, for
// answers to actions: record runs on the instance's goroutine, which must
// not wait for room in its own inbox.
func (s *session) deliverLater(ev core.Event) {
	go func() {
		<-s.started
		_ = s.inst.Deliver(s.ctx, ev)
	}()
}

func (s *session) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// watch waits for the application to return and lets the hook answer it.
func (s *session) watch() {
	<-s.inst.Done()
	err := s.inst.Err()
	s.mu.Lock()
	if s.onEnd != nil {
		s.onEnd(err)
	}
	s.ended = true
	s.mu.Unlock()
	s.signal()
	s.hub.track(s, false)
}

// stop ends the scope if it is still running: the application gets its
// farewell event and is cancelled if it does not return in time.
func (s *session) stop(byHub bool) {
	select {
	case <-s.inst.Done():
	default:
		s.mu.Lock()
		var last core.Event
		if s.farewell != nil {
			last = s.farewell(byHub)
		}
		s.mu.Unlock()
		s.signal()
		if last != nil {
			_ = s.deliver(last)
		}
		s.inst.Stop(s.timeout)
	}
	s.cancel()
	<-s.inst.Done()
	s.hub.track(s, false)
}

// Scope is the conversation's scope: its key, channel name, state.
func (s *session) Scope() *core.Scope { return s.scope }

// deliver puts an event in the application's inbox, waiting at most the
// timeout for room (the runtime's Block policy is backpressure).
func (s *session) deliver(ev core.Event) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	err := s.inst.Deliver(ctx, ev)
	switch {
	case errors.Is(err, core.ErrInboxFull):
		return nil // delivered as far as the client knows; the hub ends the scope
	case errors.Is(err, core.ErrScopeClosed):
		return fmt.Errorf("the application has already returned (%v)", s.inst.Err())
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the inbox stayed full for %v", s.timeout)
	}
	return err
}

func (s *session) mustDeliver(ev core.Event) {
	s.t.Helper()
	if err := s.deliver(ev); err != nil {
		s.t.Fatalf("hubtest: %s: send %s: %v", s.label, ev.Type(), err)
	}
}

// ReceiveOutput waits up to timeout (0: the communicator's) for the next
// action the application sent.
func (s *session) ReceiveOutput(timeout time.Duration) (core.Event, error) {
	if timeout <= 0 {
		timeout = s.timeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if len(s.out) > 0 {
			ev := s.out[0]
			s.out[0] = nil
			s.out = s.out[1:]
			s.mu.Unlock()
			return ev, nil
		}
		ended := s.ended
		s.mu.Unlock()
		if ended {
			return nil, fmt.Errorf("hubtest: %s: the application has returned (%v) and sent nothing more", s.label, s.inst.Err())
		}
		select {
		case <-s.notify:
		case <-deadline.C:
			return nil, fmt.Errorf("hubtest: %s: the application sent nothing within %v", s.label, timeout)
		}
	}
}

func (s *session) mustReceive(want string) core.Event {
	s.t.Helper()
	ev, err := s.ReceiveOutput(0)
	if err != nil {
		s.t.Fatalf("%v; want %s", err, want)
	}
	return ev
}

// ExpectNothing fails the test if the application sends anything within
// NothingWindow (50 ms); see the package doc for why a window is inherent.
func (s *session) ExpectNothing() {
	s.t.Helper()
	if ev, err := s.ReceiveOutput(NothingWindow); err == nil {
		s.t.Fatalf("hubtest: %s: want nothing, got %s", s.label, describe(ev))
	}
}

// Wait waits for the application to return and gives its error: nil for a
// normal end, else the error or panic that ended the scope.
func (s *session) Wait() error {
	s.t.Helper()
	appErr, err := s.wait()
	if err != nil {
		s.t.Fatalf("hubtest: %s: %v", s.label, err)
	}
	return appErr
}

func (s *session) wait() (appErr, err error) {
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	select {
	case <-s.inst.Done():
		return s.inst.Err(), nil
	case <-t.C:
		return nil, fmt.Errorf("the application did not return within %v", s.timeout)
	}
}

func (s *session) isDone() bool {
	select {
	case <-s.inst.Done():
		return true
	default:
		return false
	}
}

// describe renders an event for a failure message.
func describe(ev core.Event) string {
	switch ev := ev.(type) {
	case websocket.Accept:
		return fmt.Sprintf("websocket.accept (subprotocol %q)", ev.Subprotocol)
	case websocket.Send:
		if ev.Bytes != nil {
			return fmt.Sprintf("a binary frame (% x)", ev.Bytes)
		}
		return fmt.Sprintf("a text frame %q", ev.Text)
	case websocket.Close:
		return fmt.Sprintf("websocket.close (code %d, reason %q)", ev.Code, ev.Reason)
	case nil:
		return "nothing"
	}
	if d, ok := describeChat(ev); ok {
		return d
	}
	return fmt.Sprintf("%s %+v", ev.Type(), ev)
}
