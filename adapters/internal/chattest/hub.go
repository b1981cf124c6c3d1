package chattest

import (
	"context"
	"log"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/internal/syncbuf"
)

// shutdownTimeout is how long Shutdown waits for Run to return; Discord's
// gateway takes a second to close.
const shutdownTimeout = 15 * time.Second

// Buffer is the log buffer a test shares with the adapter's loggers.
type Buffer = syncbuf.Buffer

// Adapter is what Start runs: a chat adapter, or anything that serves until
// its context ends.
type Adapter interface {
	Run(ctx context.Context) error
}

// Hub is an adapter under test, with everything it logged.
type Hub[A Adapter] struct {
	Adapter A
	// Runtime is the adapter's: its Metrics count the scopes it opened.
	Runtime *core.Runtime
	Logs    *Buffer
	stop    context.CancelFunc
	done    chan error
}

// Config is what Start runs an adapter with.
type Config struct {
	App   core.Application
	Store core.StateStore
	// Runtime, if set, is a template: the runtime takes its inbox size,
	// policy and layer.
	Runtime *core.Runtime
	// Tokens are the bots' tokens, which must not reach the logs.
	Tokens []Token
	// LogsEnv names an environment variable that, set, prints the logs of
	// a test that passed too.
	LogsEnv string
}

// Token is a bot's token as the log check looks for it: whole, and from
// Skip on, so that a token logged without its head (Telegram's bot id,
// the user id Discord's begins with) is caught too.
type Token struct {
	Bot   string
	Value string
	Skip  int
}

// Start runs the adapter build makes for a runtime until the test ends,
// then shuts it down and checks that no token reached the logs. The
// runtime's logger, which build should give the adapter too, and the
// standard logger write to Logs.
func Start[A Adapter](t *testing.T, cfg Config, build func(*core.Runtime) (A, error)) *Hub[A] {
	t.Helper()
	h := &Hub[A]{Logs: &Buffer{}, done: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(h.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.Runtime = &core.Runtime{App: cfg.App, Store: cfg.Store, Metrics: new(core.Metrics), Logger: logger}
	if r := cfg.Runtime; r != nil {
		h.Runtime.InboxSize, h.Runtime.Policy, h.Runtime.Layer = r.InboxSize, r.Policy, r.Layer
	}
	prev := log.Writer()
	log.SetOutput(h.Logs)
	t.Cleanup(func() { log.SetOutput(prev) })
	a, err := build(h.Runtime)
	if err != nil {
		t.Fatal(err)
	}
	h.Adapter = a
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		h.Shutdown(t)
		AssertNoTokens(t, h.Logs.String(), cfg.Tokens...)
		if t.Failed() || (cfg.LogsEnv != "" && os.Getenv(cfg.LogsEnv) != "") {
			t.Logf("logs:\n%s", h.Logs)
		}
	})
	return h
}

// Stop asks the adapter to stop, without waiting for it.
func (h *Hub[A]) Stop() { h.stop() }

// Shutdown stops the adapter and waits for Run to return, failing the test
// if it returns an error or does not return. Calling it again returns at
// once.
func (h *Hub[A]) Shutdown(t testing.TB) {
	t.Helper()
	h.stop()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		h.done <- nil
	case <-time.After(shutdownTimeout):
		t.Fatal("Run did not return")
	}
}

// AssertNoTokens fails the test if a token appears in logs.
func AssertNoTokens(t testing.TB, logs string, tokens ...Token) {
	t.Helper()
	for _, tok := range tokens {
		if strings.Contains(logs, tok.Value) || strings.Contains(logs, tok.Value[tok.Skip:]) {
			t.Errorf("bot %s's token appears in the logs:\n%s", tok.Bot, logs)
		}
	}
}
