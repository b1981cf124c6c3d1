package nats

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/layertest"
	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/internal/servertest"
)

func newTestLayer(t *testing.T, o Options) *Layer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	l, err := New(ctx, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func TestConformance(t *testing.T) {
	s := startServer(t)
	layertest.Run(t, func(t *testing.T) layer.Layer {
		return newTestLayer(t, Options{URL: s.url(), Layer: layertest.Options})
	})
}

// TestCrossProcess runs two layers ("processes") on one server: group sends,
// direct sends and group membership requests between them.
func TestCrossProcess(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	opts := Options{URL: s.url(), Layer: layertest.Options, SendTimeout: 500 * time.Millisecond}
	a, b := newTestLayer(t, opts), newTestLayer(t, opts)
	defer a.Close()
	defer b.Close()
	chA, _ := a.NewChannel(ctx, "specific")
	chB, _ := b.NewChannel(ctx, "specific")
	group := layertest.Name("chat_room")
	if err := a.GroupAdd(ctx, group, chA); err != nil {
		t.Fatal(err)
	}
	if err := a.GroupAdd(ctx, group, chB); err != nil { // a adds b's channel: b owns it
		t.Fatal(err)
	}
	if err := b.GroupSend(ctx, group, layer.Message{"type": "chat.message", "text": "hello room"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		l  *Layer
		ch string
	}{{a, chA}, {b, chB}} {
		if m, err := r.l.Receive(ctx, r.ch); err != nil || m["text"] != "hello room" {
			t.Fatalf("Receive(%s) = %v, %v", r.ch, m, err)
		}
	}
	if err := a.Send(ctx, chB, layer.Message{"type": "direct"}); err != nil {
		t.Fatal(err)
	}
	if m, err := b.Receive(ctx, chB); err != nil || m.Type() != "direct" {
		t.Fatalf("direct a→b = %v, %v", m, err)
	}
	if _, err := a.Receive(ctx, chB); err == nil {
		t.Error("a received on b's process-local channel")
	}
	// b's full channel: a's Send learns it, a's GroupSend is skipped and counted by b.
	for i := range layertest.Options.Capacity {
		if err := b.Send(ctx, chB, layer.Message{"type": "fill", "n": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Send(ctx, chB, layer.Message{"type": "over"}); !errors.Is(err, layer.ErrChannelFull) {
		t.Errorf("Send to b's full channel: %v, want ErrChannelFull", err)
	}
	if err := a.GroupSend(ctx, group, layer.Message{"type": "again"}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, patience, "b counts the group drop", func() bool { return b.Stats().GroupDrop >= 1 })
	// A fixed-name channel received by b, sent to by a; a group member too.
	layertest.Listen(t, b, "hub.worker")
	if err := a.Send(ctx, "hub.worker", layer.Message{"type": "job"}); err != nil {
		t.Fatal(err)
	}
	if m, err := b.Receive(ctx, "hub.worker"); err != nil || m.Type() != "job" {
		t.Fatalf("fixed-name a→b = %v, %v", m, err)
	}
	if err := a.GroupAdd(ctx, "jobs", "hub.worker"); err != nil {
		t.Fatal(err)
	}
	if err := b.GroupSend(ctx, "jobs", layer.Message{"type": "job.group"}); err != nil {
		t.Fatal(err)
	}
	if m, err := b.Receive(ctx, "hub.worker"); err != nil || m.Type() != "job.group" {
		t.Fatalf("group to fixed-name member = %v, %v", m, err)
	}
	// Nobody receives here: the sender is told, not left guessing.
	if err := a.Send(ctx, "nobody.home", layer.Message{"type": "x"}); !errors.Is(err, ErrNoReceiver) {
		t.Errorf("Send to an unreceived channel: %v, want ErrNoReceiver", err)
	}
	// Once the server has seen b go, its channels have no receiver.
	b.Close()
	poll.Until(t, patience, "a Send to b's channel fails with ErrNoReceiver", func() bool {
		return errors.Is(a.Send(ctx, chB, layer.Message{"type": "x"}), ErrNoReceiver)
	})
	if err := a.GroupDiscard(ctx, group, chB); err != nil {
		t.Errorf("GroupDiscard of a gone process' channel: %v", err)
	}
}

// TestRestart kills nats-server mid-run and starts it again on the same
// port: calls fail with clear errors meanwhile, the layer reconnects with its
// subscriptions, a receiver blocked across the outage is served, and Close
// leaves no goroutine behind.
func TestRestart(t *testing.T) {
	s := startServer(t)
	base := runtime.NumGoroutine()
	opts := Options{URL: s.url(), Layer: layertest.Options, SendTimeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 3*patience)
	defer cancel()
	hub, peer := newTestLayer(t, opts), newTestLayer(t, opts)
	ch, _ := hub.NewChannel(ctx, "specific")
	layertest.Listen(t, hub, "fixed")
	if err := hub.GroupAdd(ctx, "room", ch); err != nil {
		t.Fatal(err)
	}
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
	poll.Until(t, patience, "the peer notices the outage", func() bool { return !peer.nc.IsConnected() })
	for name, call := range map[string]func(context.Context) error{
		"Send":      func(ctx context.Context) error { return peer.Send(ctx, ch, layer.Message{"type": "lost"}) },
		"GroupSend": func(ctx context.Context) error { return peer.GroupSend(ctx, "room", layer.Message{"type": "lost"}) },
	} {
		if err := call(ctx); err == nil {
			t.Errorf("%s while NATS is down succeeded", name)
		} else {
			t.Logf("%s while NATS is down: %v", name, err)
		}
	}

	s.Start()
	poll.Until(t, patience, "Send recovers", func() bool {
		return peer.Send(ctx, ch, layer.Message{"type": "after"}) == nil
	})
	select {
	case m := <-got:
		if m.Type() != "after" {
			t.Fatalf("after the outage got %v", m)
		}
	case <-time.After(patience):
		t.Fatal("the receiver blocked across the outage was never served")
	}
	// Subscriptions came back: the fixed-name channel and the group.
	if err := peer.Send(ctx, "fixed", layer.Message{"type": "fixed"}); err != nil {
		t.Fatal(err)
	}
	if m, err := hub.Receive(ctx, "fixed"); err != nil || m.Type() != "fixed" {
		t.Fatalf("fixed-name after the outage: %v, %v", m, err)
	}
	if err := peer.GroupSend(ctx, "room", layer.Message{"type": "room"}); err != nil {
		t.Fatal(err)
	}
	if m, err := hub.Receive(ctx, ch); err != nil || m.Type() != "room" {
		t.Fatalf("group after the outage: %v, %v", m, err)
	}
	hub.Close()
	peer.Close()
	servertest.WaitGoroutines(t, base)
}

// TestCloseUnblocks checks that Close ends waiting receivers with ErrClosed.
func TestCloseUnblocks(t *testing.T) {
	s := startServer(t)
	base := runtime.NumGoroutine()
	l := newTestLayer(t, Options{URL: s.url()})
	ctx := context.Background()
	ch, _ := l.NewChannel(ctx, "specific")
	errs := make(chan error, 2)
	for _, name := range []string{ch, "fixed"} {
		go func() {
			_, err := l.Receive(ctx, name)
			errs <- err
		}()
	}
	l.Close()
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
	servertest.WaitGoroutines(t, base)
}

// TestWatchRemote checks that a message from another process kicks the
// watcher of its channel.
func TestWatchRemote(t *testing.T) {
	s := startServer(t)
	opts := Options{URL: s.url()}
	hub, peer := newTestLayer(t, opts), newTestLayer(t, opts)
	defer hub.Close()
	defer peer.Close()
	layertest.WatchRemote(t, hub, peer)
}
