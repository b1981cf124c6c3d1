package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ChannelNameRouter picks an Application by the fixed channel a worker scope
// serves ("thumbnails"), like Channels' ChannelNameRouter.
type ChannelNameRouter map[string]Application

// Serve implements Application.
func (r ChannelNameRouter) Serve(ctx context.Context, scope *Scope, inbox Inbox, send SendFunc) error {
	return ServeResolved(ctx, r, scope, inbox, send)
}

// Resolve implements Resolver.
func (r ChannelNameRouter) Resolve(scope *Scope) (Application, *Scope, error) {
	app, ok := r[scope.Channel]
	if !ok {
		return nil, scope, fmt.Errorf("%w for channel %q (routed: %s)", ErrNoRoute, scope.Channel, strings.Join(slices.Sorted(maps.Keys(r)), ", "))
	}
	return app, scope, nil
}

// RunWorker serves fixed channel names until ctx ends: one scope per channel
// (type "channel", key "channel:<name>"), fed by the runtime's layer, so a
// Send("thumbnails", msg) from any process reaches it. Several worker
// processes on one distributed layer share a channel's messages. An
// instance that ends is started again, so one failing message does not stop
// the worker.
func RunWorker(ctx context.Context, rt *Runtime, channels ...string) error {
	if rt.Layer == nil {
		return ErrNoLayer
	}
	if len(channels) == 0 {
		return errors.New("core: worker needs at least one channel name")
	}
	done := make(chan struct{}, len(channels))
	for _, ch := range channels {
		go func() {
			defer func() { done <- struct{}{} }()
			superviseChannel(ctx, rt, ch)
		}()
	}
	for range channels {
		<-done
	}
	return nil
}

// superviseChannel keeps one instance serving a channel. Messages still
// queued in an instance that failed go to the next one (ahead of new ones,
// though a new message may slip in between: order is kept except across a
// failure).
func superviseChannel(ctx context.Context, rt *Runtime, channel string) {
	backoff := 10 * time.Millisecond
	var leftover []Event
	for ctx.Err() == nil {
		scope := &Scope{Type: "channel", Key: "channel:" + channel, Path: channel, Channel: channel}
		in, err := rt.Start(ctx, scope, func(context.Context, Event) error {
			return errors.New("core: a worker scope has no client to answer; use the layer")
		})
		if err == nil {
			for _, ev := range leftover {
				in.Deliver(ctx, ev)
			}
			<-in.Done()
			leftover = in.Leftover()
			if in.Err() == nil {
				backoff = 10 * time.Millisecond
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}
