package redis

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/layertest"
	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/internal/servertest"
)

// TestRestart kills redis-server mid-run and starts it again on the same
// port: calls fail with clear errors meanwhile, a receiver blocked across
// the outage is served afterwards, and Close leaves no goroutine behind.
func TestRestart(t *testing.T) {
	s := startServer(t)
	base := runtime.NumGoroutine()
	opts := Options{Hosts: []string{s.url()}, Layer: layertest.Options}
	ctx, cancel := context.WithTimeout(context.Background(), 3*patience)
	defer cancel()
	hub, peer := newTestLayer(t, opts), newTestLayer(t, opts)
	ch, _ := hub.NewChannel(ctx, "specific")
	if err := peer.Send(ctx, ch, layer.Message{"type": "before"}); err != nil {
		t.Fatal(err)
	}
	if m, err := hub.Receive(ctx, ch); err != nil || m.Type() != "before" {
		t.Fatalf("before the outage: %v, %v", m, err)
	}

	got := make(chan layer.Message, 1)
	go func() { // blocked across the outage
		m, err := hub.Receive(ctx, ch)
		if err != nil {
			t.Errorf("Receive across the outage: %v", err)
		}
		got <- m
	}()

	s.Stop()
	for name, call := range map[string]func(context.Context) error{
		"Send":      func(ctx context.Context) error { return peer.Send(ctx, ch, layer.Message{"type": "lost"}) },
		"GroupAdd":  func(ctx context.Context) error { return peer.GroupAdd(ctx, "g", ch) },
		"GroupSend": func(ctx context.Context) error { return peer.GroupSend(ctx, "g", layer.Message{"type": "lost"}) },
		"Receive": func(ctx context.Context) error {
			_, err := peer.Receive(ctx, "fixed")
			return err
		},
	} {
		callCtx, cancel := context.WithTimeout(ctx, patience)
		err := call(callCtx)
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while Redis is down: %v, want a prompt connection error", name, err)
		} else {
			t.Logf("%s while Redis is down: %v", name, err)
		}
	}

	s.Start()
	var err error
	if !poll.Wait(patience, func() bool {
		err = peer.Send(ctx, ch, layer.Message{"type": "after"})
		return err == nil
	}) {
		t.Fatalf("Send never recovered: %v", err)
	}
	select {
	case m := <-got:
		if m.Type() != "after" {
			t.Fatalf("after the outage got %v", m)
		}
	case <-time.After(patience):
		t.Fatal("the receiver blocked across the outage was never served")
	}
	if err := peer.Send(ctx, "fixed", layer.Message{"type": "fixed"}); err != nil {
		t.Fatal(err)
	}
	if m, err := hub.Receive(ctx, "fixed"); err != nil || m.Type() != "fixed" {
		t.Fatalf("fixed-name after the outage: %v, %v", m, err)
	}

	if err := hub.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := peer.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	servertest.WaitGoroutines(t, base)
}

// TestCloseUnblocks checks that Close ends receivers waiting on local and
// fixed-name channels with ErrClosed, and its own goroutines.
func TestCloseUnblocks(t *testing.T) {
	s := startServer(t)
	base := runtime.NumGoroutine()
	l := newTestLayer(t, Options{Hosts: []string{s.url()}})
	ctx := context.Background()
	ch, _ := l.NewChannel(ctx, "specific")
	errs := make(chan error, 2)
	for _, name := range []string{ch, "fixed"} {
		go func() {
			_, err := l.Receive(ctx, name)
			errs <- err
		}()
	}
	// Let the fixed-name receiver block in BZPOPMIN beside the drain loop.
	rdb := rawClient(t, s)
	poll.Until(t, patience, "both receivers blocked in BZPOPMIN", func() bool {
		return strings.Count(rdb.ClientList(ctx).Val(), "cmd=bzpopmin") >= 2
	})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Receive after Close: %v, want ErrClosed", err)
			}
		case <-time.After(patience):
			t.Fatal("Close left a receiver blocked")
		}
	}
	if err := l.Send(ctx, ch, layer.Message{"type": "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	servertest.WaitGoroutines(t, base)
}

// TestNewPrefixWakes checks that a channel with a prefix new to the process
// is drained at once, not after the drain loop's current BZPOPMIN times out.
func TestNewPrefixWakes(t *testing.T) {
	s := startServer(t)
	opts := Options{Hosts: []string{s.url()}}
	hub, peer := newTestLayer(t, opts), newTestLayer(t, opts)
	defer hub.Close()
	defer peer.Close()
	ctx := context.Background()
	ch, err := hub.NewChannel(ctx, "custom.prefix")
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Send(ctx, ch, layer.Message{"type": "woken"}); err != nil {
		t.Fatal(err)
	}
	quick, cancel := context.WithTimeout(ctx, drainTimeout*3/4)
	defer cancel()
	if m, err := hub.Receive(quick, ch); err != nil || m.Type() != "woken" {
		t.Fatalf("Receive on a new prefix within %v: %v, %v", drainTimeout*3/4, m, err)
	}
}

// TestWatchRemote checks that a message from another process, drained from
// Redis, kicks the watcher of its channel.
func TestWatchRemote(t *testing.T) {
	s := startServer(t)
	opts := Options{Hosts: []string{s.url()}}
	hub, peer := newTestLayer(t, opts), newTestLayer(t, opts)
	defer hub.Close()
	defer peer.Close()
	layertest.WatchRemote(t, hub, peer)
}
