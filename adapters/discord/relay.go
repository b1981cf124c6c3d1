package discord

import (
	"context"
	"fmt"
	"strings"

	"github.com/hubhq/hub/adapters/relay"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// relayActions performs the actions sent to the bot's action channel (see
// package relay) until ctx ends. They take the path a scope's actions
// take — the channel's limiter, long texts split — and no scope is opened
// for them.
func (a *Adapter) relayActions(ctx context.Context, b *botRunner) {
	relay.Run(ctx, relay.Config[target]{
		Layer:    a.opts.Runtime.Layer,
		Platform: Platform,
		Bot:      b.cfg.Name,
		Parse:    parseTarget,
		Perform: func(ctx context.Context, _ string, t target, action core.Event) error {
			err := a.perform(ctx, b, t, &b.relayed, action)
			if _, ok := action.(chat.React); ok {
				b.relayed.forgetBeyond(maxRelayedReactions)
			}
			return err
		},
		Log:   a.log,
		Grace: stopGrace,
	})
}

// maxRelayedReactions bounds the reactions a bot remembers setting through
// its action channel. Message ids are unique across Discord, so one memory
// serves all the bot's conversations; beyond the bound it starts afresh,
// and a reaction set before that is added beside, not replaced.
const maxRelayedReactions = 10000

// forgetBeyond forgets every reaction once there are more than n.
func (r *reactions) forgetBeyond(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.set) > n {
		r.set = nil
	}
}

// parseTarget reads a channel or DM, "<channel>", or a thread,
// "<parent channel>:<thread>", from a scope key. The ids go into REST
// paths, so they must be snowflakes: digits.
func parseTarget(s string) (target, error) {
	channel, thread, isThread := strings.Cut(s, ":")
	if !snowflake(channel) || (isThread && !snowflake(thread)) {
		return target{}, fmt.Errorf("discord: bad channel %q", s)
	}
	if isThread {
		return target{channel: thread, parent: channel}, nil
	}
	return target{channel: channel}, nil
}

func snowflake(id string) bool {
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return id != ""
}
