package telegram

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hubhq/hub/adapters/relay"
	"github.com/hubhq/hub/core"
)

// relayActions performs the actions sent to the bot's action channel (see
// package relay) until ctx ends. They take the path a scope's actions
// take — the outbox if there is one, then the limiter — so in a chat they
// queue behind its scope's earlier calls, and no scope is opened for them.
func (a *Adapter) relayActions(ctx context.Context, b *botRunner) {
	relay.Run(ctx, relay.Config[target]{
		Layer:    a.rt.Layer,
		Platform: Platform,
		Bot:      b.cfg.Name,
		Parse:    parseTarget,
		Perform: func(ctx context.Context, _ string, t target, action core.Event) error {
			return a.perform(ctx, b, t, nil, action) // not handling an update: no dedupe key
		},
		Log:   a.log,
		Grace: stopGrace,
	})
}

// parseTarget reads a chat and topic, "<chat>[:<topic>]", from a scope key.
func parseTarget(s string) (target, error) {
	chatID, topic, hasTopic := strings.Cut(s, ":")
	id, err := strconv.ParseInt(chatID, 10, 64)
	if err != nil || id == 0 {
		return target{}, fmt.Errorf("telegram: bad chat id %q", chatID)
	}
	// Telegram gives users positive ids, groups and channels negative ones.
	t := target{chat: id, group: id < 0}
	if hasTopic {
		if t.thread, err = strconv.Atoi(topic); err != nil || t.thread <= 0 {
			return target{}, fmt.Errorf("telegram: bad topic id %q", topic)
		}
	}
	return t, nil
}
