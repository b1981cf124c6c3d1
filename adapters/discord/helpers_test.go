package discord_test

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/discord"
	"github.com/hubhq/hub/adapters/discord/discordtest"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/store"
)

const (
	tokenA = "MTA-secret-token-of-bot-a.Gx1.aaaaaaaa"
	tokenB = "MTB-secret-token-of-bot-b.Gx2.bbbbbbbb"
)

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hub is an adapter under test, with everything it logged.
type hub struct {
	adapter *discord.Adapter
	runtime *core.Runtime
	logs    *syncBuffer
	done    chan error
	stop    context.CancelFunc
}

// fastLimits keep tests quick where rates are not what is tested.
var fastLimits = discord.Limits{Channel: 100, Burst: 10}

// startHub runs an adapter for bots until the test ends, then checks that
// no token reached the logs: the hub's, and the standard logger's, where
// discordgo writes.
func startHub(t *testing.T, app core.Application, db core.StateStore, opts discord.Options) *hub {
	t.Helper()
	h := &hub{logs: &syncBuffer{}, done: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.runtime = &core.Runtime{App: app, Store: db, Metrics: new(core.Metrics), Logger: logger}
	if opts.Runtime != nil { // a template for the inbox settings and the layer
		h.runtime.InboxSize, h.runtime.Policy, h.runtime.Layer = opts.Runtime.InboxSize, opts.Runtime.Policy, opts.Runtime.Layer
	}
	prev := log.Writer()
	log.SetOutput(h.logs) // discordgo logs there
	t.Cleanup(func() { log.SetOutput(prev) })
	opts.Runtime = h.runtime
	opts.Logger = logger
	if opts.Limits == (discord.Limits{}) {
		opts.Limits = fastLimits
	}
	a, err := discord.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.adapter = a
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		h.shutdown(t)
		assertNoTokens(t, h.logs.String(), opts.Bots)
		if t.Failed() || os.Getenv("DISCORD_TEST_LOGS") != "" {
			t.Logf("logs:\n%s", h.logs)
		}
	})
	return h
}

func (h *hub) shutdown(t *testing.T) {
	h.stop()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		h.done <- nil
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
}

func assertNoTokens(t *testing.T, logs string, bots []discord.BotConfig) {
	t.Helper()
	for _, b := range bots {
		if strings.Contains(logs, string(b.Token)) || strings.Contains(logs, string(b.Token)[8:]) {
			t.Errorf("bot %s's token appears in the logs:\n%s", b.Name, logs)
		}
	}
}

func bot(name, token string, fake *discordtest.Server) discord.BotConfig {
	return discord.BotConfig{Name: name, Token: discord.Token(token), APIURL: fake.URL()}
}

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

func texts(msgs []discordtest.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Content
	}
	return out
}

func assertTexts(t *testing.T, got []discordtest.Message, want ...string) {
	t.Helper()
	if g := texts(got); strings.Join(g, "|") != strings.Join(want, "|") {
		t.Fatalf("sent %q, want %q", g, want)
	}
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
