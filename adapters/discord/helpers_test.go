package discord_test

import (
	"context"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/discord"
	"github.com/hubhq/hub/adapters/discord/discordtest"
	"github.com/hubhq/hub/adapters/internal/chattest"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

const (
	tokenA = "MTA-secret-token-of-bot-a.Gx1.aaaaaaaa"
	tokenB = "MTB-secret-token-of-bot-b.Gx2.bbbbbbbb"
)

// hub is an adapter under test, with everything it logged.
type hub = chattest.Hub[*discord.Adapter]

// fastLimits keep tests quick where rates are not what is tested.
var fastLimits = discord.Limits{Channel: 100, Burst: 10}

// startHub runs an adapter for bots until the test ends, then checks that
// no token reached the logs: the hub's, and the standard logger's, where
// discordgo writes.
func startHub(t *testing.T, app core.Application, db core.StateStore, opts discord.Options) *hub {
	t.Helper()
	if opts.Limits == (discord.Limits{}) {
		opts.Limits = fastLimits
	}
	cfg := chattest.Config{App: app, Store: db, Runtime: opts.Runtime, Tokens: tokens(opts.Bots), LogsEnv: "DISCORD_TEST_LOGS"}
	return chattest.Start(t, cfg, func(rt *core.Runtime) (*discord.Adapter, error) {
		opts.Runtime, opts.Logger = rt, rt.Logger
		return discord.New(opts)
	})
}

// tokens are the bots' tokens for chattest's log check.
func tokens(bots []discord.BotConfig) []chattest.Token {
	out := make([]chattest.Token, len(bots))
	for i, b := range bots {
		out[i] = chattest.Token{Bot: b.Name, Value: string(b.Token), Skip: 8}
	}
	return out
}

func bot(name, token string, fake *discordtest.Server) discord.BotConfig {
	return discord.BotConfig{Name: name, Token: discord.Token(token), APIURL: fake.URL()}
}

func texts(msgs []discordtest.Message) []string {
	return chattest.Texts(msgs, func(m discordtest.Message) string { return m.Content })
}

func assertTexts(t *testing.T, got []discordtest.Message, want ...string) {
	t.Helper()
	chattest.AssertTexts(t, texts(got), want...)
}

// recorded is an event a recorder application received, with its scope.
type recorded struct {
	scope *core.Scope
	ev    core.Event
}

// recorder is an application that reports every event of every scope, and
// performs the actions act returns for it.
func recorder(act func(core.Event) []core.Event) (core.Application, <-chan recorded) {
	out := make(chan recorded, 100)
	return core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			out <- recorded{scope, ev}
			if _, ok := ev.(chat.Disconnect); ok {
				return nil
			}
			if act != nil {
				for _, a := range act(ev) {
					if err := send(ctx, a); err != nil {
						return err
					}
				}
			}
		}
	}), out
}

func next(t *testing.T, events <-chan recorded) recorded {
	t.Helper()
	select {
	case r := <-events:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return recorded{}
	}
}
