package telegram_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/internal/chattest"
	"github.com/hubhq/hub/adapters/telegram"
	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/internal/crashcheck"
	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/store"
)

// The crash test: 1,000 updates over 50 chats, the hub SIGKILLed after 300
// replies and restarted. Every update must be answered exactly once:
// nothing lost, nothing repeated — the calls in flight at the kill
// included, which the attempt journal and its witness settle (README.md,
// Crash safety).
//
// It runs the hub (adapter + echo + store) in a child process —
// this test binary run again with crashChildEnv set — against a fake Bot
// API in the parent, so the fake and what it recorded survive the kill.
const (
	crashChildEnv = "HUB_TELEGRAM_CRASH_CHILD"
	crashURLEnv   = "HUB_TELEGRAM_CRASH_URL"
	crashDBEnv    = "HUB_TELEGRAM_CRASH_DB"
)

const (
	crashChats    = 50
	crashMessages = 1000 // spread over the chats
	crashKillAt   = 300  // replies seen before the kill
)

func TestCrashMidBurstAnswersEveryUpdateExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the hub twice; skipped with -short")
	}
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	dbPath := filepath.Join(t.TempDir(), "hub.db")

	for i := range crashMessages {
		chat := int64(100 + i%crashChats)
		tg.PushMessage(chat, fmt.Sprint("user", chat), fmt.Sprint("m", i))
	}
	child := startCrashChild(t, fake.URL(), dbPath)
	chattest.Eventually(t, fmt.Sprint(crashKillAt, " replies"), func() bool { return len(replies(tg)) >= crashKillAt })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait() //nolint:errcheck // killed: it fails by design
	atKill := replies(tg)
	t.Logf("killed after %d replies; the restart settles the calls in flight: %+v", len(atKill), crashcheck.Read(t, dbPath))

	child = startCrashChild(t, fake.URL(), dbPath)
	if !poll.Wait(60*time.Second, func() bool { return len(replies(tg)) >= crashMessages }) {
		t.Fatalf("after the restart only %d of %d updates were answered", len(replies(tg)), crashMessages)
	}
	stopCrashChild(t, child)

	want := make([]string, crashMessages)
	for i := range want {
		want[i] = fmt.Sprint("You said: m", i)
	}
	t.Log(crashcheck.Check(t, replies(tg), want))
}

// replies counts the echo replies the fake received, by text.
func replies(tg *telegramtest.Bot) map[string]int {
	out := map[string]int{}
	for _, r := range tg.Requests("sendMessage") {
		if text := r.Params["text"]; strings.HasPrefix(text, "You said: ") {
			out[text]++
		}
	}
	return out
}

func startCrashChild(t *testing.T, url, dbPath string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashURLEnv+"="+url, crashDBEnv+"="+dbPath)
	var logs chattest.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // may have exited already
		if strings.Contains(logs.String(), tokenA) || strings.Contains(logs.String(), tokenA[7:]) {
			t.Errorf("the token is in the hub's logs")
		}
		if t.Failed() {
			t.Logf("hub logs:\n%s", logs.String())
		}
	})
	return cmd
}

func stopCrashChild(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("hub exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("hub did not stop on SIGTERM")
	}
}

// TestCrashChild is the hub of the crash test, run in a child process.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) == "" {
		t.Skip("the crash test's hub process")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	db, err := store.Open(os.Getenv(crashDBEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := telegram.New(telegram.Options{
		Bots:        []telegram.BotConfig{{Name: "echo", Token: tokenA, APIURL: os.Getenv(crashURLEnv)}},
		Runtime:     &core.Runtime{App: echoApp(), Store: db, Logger: logger},
		Outbox:      db,
		PollTimeout: time.Second,
		Limits:      telegram.Limits{Bot: 1e6, Chat: 1e6, Group: 1e6, Burst: 1000},
		Logger:      logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
}
