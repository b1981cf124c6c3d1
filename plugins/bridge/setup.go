package bridge

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/plugins/chatroom"
)

// init registers the bridge; the config gives it on the route of every bot
// it bridges, with the same options each time.
func init() {
	plugins.RegisterFactory("bridge", func(opts plugins.Options) (core.Application, error) {
		var cfg Config
		if err := opts.Decode(&cfg); err != nil {
			return nil, err
		}
		return New(cfg)
	})
}

// Config is the plugin's options.
type Config struct {
	// Room is the chat room the bridge spans; its browser side is the
	// chatroom plugin's room of that name, always part of the bridge.
	Room string `json:"room"`
	// Endpoints are the bridged conversations by scope key:
	// "telegram:<bot>:<chat>[:<topic>]", "discord:<bot>:<channel>" or
	// "discord:<bot>:<channel>:<thread>".
	Endpoints []string `json:"endpoints"`
	// History is how many lines the room keeps for newcomers when the
	// bridge adds one from a platform; give the chatroom route's history
	// option here too (default chatroom.DefaultHistory).
	History int `json:"history"`
}

// endpoint is one bridged conversation and where its bot takes actions.
type endpoint struct {
	key     string // the conversation's scope key
	actions string // chat.ActionChannel of its platform and bot
}

// parse checks the config and returns its endpoints.
func (c Config) parse() ([]endpoint, error) {
	if err := chatroom.ValidRoom(c.Room); err != nil {
		return nil, fmt.Errorf("room: %w", err)
	}
	if len(c.Endpoints) == 0 {
		return nil, errors.New(`endpoints: none given (scope keys such as "telegram:support:-1001234")`)
	}
	seen := make(map[string]bool, len(c.Endpoints))
	out := make([]endpoint, 0, len(c.Endpoints))
	for i, key := range c.Endpoints {
		ep, err := parseEndpoint(key)
		if err != nil {
			return nil, fmt.Errorf("endpoints[%d]: %w", i, err)
		}
		if seen[key] {
			return nil, fmt.Errorf("endpoints[%d]: %q is listed twice", i, key)
		}
		seen[key] = true
		out = append(out, ep)
	}
	return out, nil
}

func parseEndpoint(key string) (endpoint, error) {
	parts := strings.Split(key, ":")
	if parts[0] == "chatroom" {
		return endpoint{}, fmt.Errorf("%q: the room's browser side is always bridged; list only platform conversations", key)
	}
	if len(parts) < 3 || slices.Contains(parts, "") {
		return endpoint{}, fmt.Errorf("%q is not a conversation's scope key (<platform>:<bot>:<chat>, such as telegram:support:-1001234)", key)
	}
	actions := chat.ActionChannel(parts[0], parts[1])
	if err := layer.ValidChannelName(actions); err != nil {
		return endpoint{}, fmt.Errorf("%q: platform and bot must be letters, digits, - _ . (they name the layer channel %s)", key, actions)
	}
	return endpoint{key: key, actions: actions}, nil
}
