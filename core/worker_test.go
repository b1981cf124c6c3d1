package core_test

import (
	"context"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
)

func TestWorkerServesFixedChannels(t *testing.T) {
	l := layer.NewMemory(layer.Options{})
	results := make(chan string, 10)
	thumbs := core.AppFunc(func(ctx context.Context, s *core.Scope, in core.Inbox, _ core.SendFunc) error {
		for {
			ev, err := in.Next(ctx)
			if err != nil {
				return err
			}
			msg := ev.(layer.Message)
			if msg["id"] == "panic" {
				panic("bad image")
			}
			results <- s.Channel + ":" + msg["id"].(string)
		}
	})
	rt := &core.Runtime{App: core.ChannelNameRouter{"thumbnails": thumbs}, Layer: l, Logger: quiet}
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan error)
	go func() { stopped <- core.RunWorker(ctx, rt, "thumbnails") }()

	for _, id := range []string{"1", "panic", "2"} {
		if err := l.Send(ctx, "thumbnails", layer.Message{"type": "thumbnail.generate", "id": id}); err != nil {
			t.Fatal(err)
		}
	}
	// The panic ends one instance; the worker starts another and goes on.
	for _, want := range []string{"thumbnails:1", "thumbnails:2"} {
		if got := <-results; got != want {
			t.Fatalf("worker produced %q, want %q", got, want)
		}
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func TestChannelNameRouterUnknownChannel(t *testing.T) {
	err := core.ChannelNameRouter{"a": nil}.Serve(context.Background(), &core.Scope{Channel: "b"}, nil, nil)
	if err == nil || err.Error() != `core: no route for channel "b" (routed: a)` {
		t.Fatalf("err = %v", err)
	}
}
