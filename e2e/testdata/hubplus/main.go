// Command hubplus is the hub binary with the bundled plugins and two of the
// end-to-end tests' own, built the way a project adds its plugins: blank
// imports and cli.Main. The tests drive it where no bundled plugin gives
// them something to observe.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hubhq/hub/cmd/hub/cli"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/plugins"

	_ "github.com/hubhq/hub/plugins/alerts"
	_ "github.com/hubhq/hub/plugins/chatroom"
	_ "github.com/hubhq/hub/plugins/echo"
)

func init() {
	plugins.RegisterFactory("e2e-reply", newReply)
	plugins.Register("e2e-republish", core.AppFunc(republish))
}

func main() { os.Exit(cli.Main()) }

// newReply is a worker consumer: every layer message with a "reply_to"
// channel is answered there with {"type": "e2e.done", "id", "worker"},
// the worker being this process' id, after options.work of simulated work
// (so that two workers visibly share a queue).
func newReply(opts plugins.Options) (core.Application, error) {
	var o struct {
		Work string `json:"work"`
	}
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	var work time.Duration
	if o.Work != "" {
		var err error
		if work, err = time.ParseDuration(o.Work); err != nil {
			return nil, fmt.Errorf("e2e-reply: work: %w", err)
		}
	}
	return core.AppFunc(func(ctx context.Context, s *core.Scope, in core.Inbox, _ core.SendFunc) error {
		for {
			ev, err := in.Next(ctx)
			if err != nil {
				return err
			}
			msg, ok := ev.(layer.Message)
			if !ok {
				continue
			}
			select {
			case <-time.After(work):
			case <-ctx.Done():
				return ctx.Err()
			}
			to, _ := msg["reply_to"].(string)
			if to == "" {
				continue
			}
			reply := layer.Message{"type": "e2e.done", "id": msg["id"], "worker": os.Getpid(), "channel": s.Channel}
			if err := s.SendTo(ctx, to, reply); err != nil {
				return fmt.Errorf("e2e-reply: %w", err)
			}
		}
	}), nil
}

// republish publishes every MQTT message it receives again under "echo/".
func republish(ctx context.Context, _ *core.Scope, in core.Inbox, send core.SendFunc) error {
	for {
		ev, err := in.Next(ctx)
		if err != nil {
			return err
		}
		switch m := ev.(type) {
		case mqtt.Message:
			p := mqtt.Publish{Topic: "echo/" + m.Topic, Payload: m.Payload, QoS: 1}
			if err := send(ctx, p); err != nil {
				return fmt.Errorf("e2e-republish: %w", err)
			}
		case mqtt.Disconnect:
			return nil
		}
	}
}
