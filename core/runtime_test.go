package core_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/internal/poll"
)

// text is a test event.
type text string

func (text) Type() string { return "test.text" }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// echo answers every text event with the same text, and returns on "bye".
var echo = core.AppFunc(func(ctx context.Context, s *core.Scope, in core.Inbox, send core.SendFunc) error {
	for {
		ev, err := in.Next(ctx)
		if err != nil {
			return err
		}
		if ev == text("bye") {
			return nil
		}
		if ev == text("panic") {
			panic("boom")
		}
		if err := send(ctx, ev); err != nil {
			return err
		}
	}
})

// recorder collects what instances send.
type recorder struct {
	mu  sync.Mutex
	out []core.Event
	got chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 1000)} }

func (r *recorder) send(ctx context.Context, ev core.Event) error {
	r.mu.Lock()
	r.out = append(r.out, ev)
	r.mu.Unlock()
	r.got <- struct{}{}
	return nil
}

func (r *recorder) wait(t *testing.T, n int) []core.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.out) >= n {
			out := append([]core.Event(nil), r.out...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("waited for %d events, got %d", n, len(r.out))
		}
	}
}

func wait(t *testing.T, in *core.Instance) error {
	t.Helper()
	select {
	case <-in.Done():
		return in.Err()
	case <-time.After(5 * time.Second):
		t.Fatal("instance did not end")
		return nil
	}
}

func TestEventsOfOneScopeArriveInOrder(t *testing.T) {
	rt := &core.Runtime{App: echo, Logger: quiet}
	rec := newRecorder()
	in, err := rt.Start(t.Context(), &core.Scope{Type: "test", Key: "test:1"}, rec.send)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "b", "c", "d", "e"}
	for _, w := range want {
		if err := in.Deliver(t.Context(), text(w)); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.wait(t, len(want))
	for i, w := range want {
		if got[i] != text(w) {
			t.Fatalf("event %d = %v, want %v", i, got[i], w)
		}
	}
	in.Deliver(t.Context(), text("bye"))
	if err := wait(t, in); err != nil {
		t.Fatalf("normal end reported %v", err)
	}
}

func TestPanicEndsOnlyItsScope(t *testing.T) {
	m := new(core.Metrics)
	rt := &core.Runtime{App: echo, Logger: quiet, Metrics: m}
	rec := newRecorder()
	a, _ := rt.Start(t.Context(), &core.Scope{Type: "test", Key: "test:a"}, rec.send)
	b, _ := rt.Start(t.Context(), &core.Scope{Type: "test", Key: "test:b"}, rec.send)

	a.Deliver(t.Context(), text("panic"))
	if err := wait(t, a); err == nil {
		t.Fatal("a panicking instance reported no error")
	}
	if m.Panics.Load() != 1 {
		t.Fatalf("panics = %d, want 1", m.Panics.Load())
	}
	if err := a.Deliver(t.Context(), text("x")); !errors.Is(err, core.ErrScopeClosed) {
		t.Fatalf("deliver to ended scope: %v, want ErrScopeClosed", err)
	}
	// The other scope is untouched.
	b.Deliver(t.Context(), text("still here"))
	if got := rec.wait(t, 1); got[0] != text("still here") {
		t.Fatalf("b answered %v", got[0])
	}
	if m.Live() != 1 {
		t.Fatalf("live = %d, want 1", m.Live())
	}
}

// blocked is an app that waits until released before reading its inbox.
func blocked(release <-chan struct{}) core.Application {
	return core.AppFunc(func(ctx context.Context, s *core.Scope, in core.Inbox, send core.SendFunc) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		return echo.Serve(ctx, s, in, send)
	})
}

func TestFullInboxPolicies(t *testing.T) {
	t.Run("block waits for room", func(t *testing.T) {
		release := make(chan struct{})
		rt := &core.Runtime{App: blocked(release), InboxSize: 2, Policy: core.Block, Logger: quiet}
		rec := newRecorder()
		in, _ := rt.Start(t.Context(), &core.Scope{Key: "test:block"}, rec.send)
		in.Deliver(t.Context(), text("1"))
		in.Deliver(t.Context(), text("2"))
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if err := in.Deliver(ctx, text("3")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("deliver to full inbox under Block: %v, want it to wait until ctx expires", err)
		}
		done := make(chan error)
		go func() { done <- in.Deliver(t.Context(), text("3")) }()
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := rec.wait(t, 3); got[2] != text("3") {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("drop oldest counts the drop", func(t *testing.T) {
		release := make(chan struct{})
		m := new(core.Metrics)
		rt := &core.Runtime{App: blocked(release), InboxSize: 2, Policy: core.DropOldest, Logger: quiet, Metrics: m}
		rec := newRecorder()
		in, _ := rt.Start(t.Context(), &core.Scope{Key: "test:drop"}, rec.send)
		for _, s := range []string{"1", "2", "3"} {
			if err := in.Deliver(t.Context(), text(s)); err != nil {
				t.Fatal(err)
			}
		}
		if m.Dropped.Load() != 1 {
			t.Fatalf("dropped = %d, want 1", m.Dropped.Load())
		}
		close(release)
		if got := rec.wait(t, 2); got[0] != text("2") || got[1] != text("3") {
			t.Fatalf("got %v, want [2 3]", got)
		}
	})
	t.Run("close ends the scope with ErrInboxFull", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		m := new(core.Metrics)
		rt := &core.Runtime{App: blocked(release), InboxSize: 1, Policy: core.CloseScope, Logger: quiet, Metrics: m}
		in, _ := rt.Start(t.Context(), &core.Scope{Key: "test:close"}, newRecorder().send)
		in.Deliver(t.Context(), text("1"))
		if err := in.Deliver(t.Context(), text("2")); !errors.Is(err, core.ErrInboxFull) {
			t.Fatalf("deliver: %v, want ErrInboxFull", err)
		}
		if err := wait(t, in); !errors.Is(err, core.ErrInboxFull) {
			t.Fatalf("instance ended with %v, want ErrInboxFull", err)
		}
		if m.Full.Load() != 1 {
			t.Fatalf("full = %d, want 1", m.Full.Load())
		}
	})
}

func TestParseInboxPolicy(t *testing.T) {
	for _, p := range []core.InboxPolicy{core.Block, core.DropOldest, core.CloseScope} {
		got, err := core.ParseInboxPolicy(p.String())
		if err != nil || got != p {
			t.Errorf("ParseInboxPolicy(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := core.ParseInboxPolicy("sometimes"); err == nil {
		t.Error("unknown policy accepted")
	}
}

// joiner joins a group, then echoes layer messages and text until told.
var joiner = core.AppFunc(func(ctx context.Context, s *core.Scope, in core.Inbox, send core.SendFunc) error {
	if err := s.GroupAdd(ctx, "room"); err != nil {
		return err
	}
	return echo.Serve(ctx, s, in, send)
})

func TestGroupMembershipLeftAfterEveryEnd(t *testing.T) {
	ends := map[string]func(in *core.Instance){
		"return": func(in *core.Instance) { in.Deliver(context.Background(), text("bye")) },
		"panic":  func(in *core.Instance) { in.Deliver(context.Background(), text("panic")) },
		"stop":   func(in *core.Instance) { in.Stop(0) },
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			l := layer.NewMemory(layer.Options{})
			rt := &core.Runtime{App: joiner, Layer: l, Logger: quiet}
			rec := newRecorder()
			in, err := rt.Start(t.Context(), &core.Scope{Key: "test:" + name}, rec.send)
			if err != nil {
				t.Fatal(err)
			}
			// The group message proves the instance joined, and that layer
			// messages arrive in the same inbox as protocol events.
			deadline := time.Now().Add(5 * time.Second)
			for {
				l.GroupSend(t.Context(), "room", layer.Message{"type": "room.hello"})
				rec.mu.Lock()
				n := len(rec.out)
				rec.mu.Unlock()
				if n > 0 || time.Now().After(deadline) {
					break
				}
				select {
				case <-rec.got:
				case <-time.After(10 * time.Millisecond):
				}
			}
			if got := rec.wait(t, 1); got[0].Type() != "room.hello" {
				t.Fatalf("first event %v, want room.hello", got[0])
			}
			end(in)
			wait(t, in)
			poll.Until(t, 5*time.Second, "no channels and groups left behind", func() bool { c, g := l.Size(); return c == 0 && g == 0 })
		})
	}
}

func TestNoGoroutineLeftAfterManyScopes(t *testing.T) {
	before := runtime.NumGoroutine()
	l := layer.NewMemory(layer.Options{})
	rt := &core.Runtime{App: joiner, Layer: l, Logger: quiet, Metrics: new(core.Metrics)}
	for i := range 500 {
		in, err := rt.Start(t.Context(), &core.Scope{Key: "test:many"}, newRecorder().send)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			in.Deliver(t.Context(), text("bye"))
		} else {
			in.Stop(0)
		}
		wait(t, in)
	}
	poll.Until(t, 5*time.Second, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= before })
	if c, g := l.Size(); c != 0 || g != 0 {
		t.Fatalf("layer holds %d channels, %d groups", c, g)
	}
	if rt.Metrics.Live() != 0 {
		t.Fatalf("live = %d", rt.Metrics.Live())
	}
}

func TestStopCancelsAnAppThatDoesNotReturn(t *testing.T) {
	rt := &core.Runtime{App: echo, Logger: quiet}
	in, _ := rt.Start(t.Context(), &core.Scope{Key: "test:stop"}, newRecorder().send)
	in.Stop(time.Millisecond)
	if err := wait(t, in); err != nil {
		t.Fatalf("a cancelled instance reported %v", err)
	}
}

func TestParentContextEndsInstances(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	rt := &core.Runtime{App: echo, Logger: quiet}
	in, _ := rt.Start(ctx, &core.Scope{Key: "test:parent"}, newRecorder().send)
	cancel()
	wait(t, in)
}

func TestErrorIsReportedAndCounted(t *testing.T) {
	boom := errors.New("boom")
	rt := &core.Runtime{Logger: quiet, Metrics: new(core.Metrics), App: core.AppFunc(func(context.Context, *core.Scope, core.Inbox, core.SendFunc) error { return boom })}
	in, _ := rt.Start(t.Context(), &core.Scope{Key: "test:err"}, newRecorder().send)
	if err := wait(t, in); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if rt.Metrics.Failed.Load() != 1 {
		t.Fatalf("failed = %d", rt.Metrics.Failed.Load())
	}
}
