package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/internal/crashcheck"
	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/internal/servertest"
)

// The crash test of the hub binary: 1,000 updates over 50 chats to a bot
// routed to the bundled echo plugin, the hub SIGKILLed after about 300
// replies and started again on the same store. Every update must be
// answered exactly once: nothing lost, nothing repeated — the calls in
// flight at the kill included, which the attempt journal and its witness
// settle (adapters/telegram/README.md, Crash safety) — with the bot
// polling, and again with it taking webhooks. adapters/telegram's
// crash_test.go is the polling test of the adapter alone.
//
// The fake Bot API lives in this process, so it and what it recorded
// survive the kill. telegram.limits are raised far above Telegram's own,
// which would make 1,000 replies take over 30 s.
const (
	crashChats    = 50
	crashMessages = 1000 // spread over the chats
	crashKillAt   = 300  // replies seen before the kill
	crashTimeout  = 20 * time.Second
)

func TestTelegramCrashMidBurstAnswersEveryUpdateExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the hub twice; skipped with -short")
	}
	t.Run("polling", func(t *testing.T) { testTelegramCrash(t, "127.0.0.1:0", "") })
	// Webhook: the fake posts one update at a time and posts it again until
	// the hub answers 200, as Telegram does; the hub journals an update
	// before it answers. The restarted hub listens on the same address.
	t.Run("webhook", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
		testTelegramCrash(t, addr, `, mode: webhook, webhook_url: "http://`+addr+`/telegram/echo", webhook_secret: e2e-crash-hook-secret`)
	})
}

func testTelegramCrash(t *testing.T, listen, mode string) {
	const token = "777004:e2e-crash-token-never-printed"
	fake := telegramtest.New(t)
	bot := fake.AddBot(token, "e2e_crash_bot")
	t.Setenv("HUB_E2E_TELEGRAM_TOKEN", token) // inherited by the hub process

	dir := t.TempDir()
	path := writeConfig(t, dir, `
listen: `+listen+`
store: ./hub.db
bots:
  - {name: echo, platform: telegram, token: "${HUB_E2E_TELEGRAM_TOKEN}", api_url: "`+fake.URL()+`"`+mode+`}
telegram:
  poll_timeout: 1s
  limits: {bot: 1000000, chat: 1000000, group: 1000000, burst: 1000}
routes:
  telegram:
    - {bot: echo, consumer: echo}
`)
	for i := range crashMessages {
		chat := int64(100 + i%crashChats)
		bot.PushMessage(chat, fmt.Sprint("user", chat), fmt.Sprint("m", i))
	}

	start := time.Now()
	h := startHub(t, path)
	waitReplies(t, bot, crashKillAt, "before the kill")
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-h.exited
	killedLogs := h.Logs()
	seen := echoReplies(bot)
	atKill := len(seen)
	t.Logf("killed after %d replies (%v); the restart settles the calls in flight: %+v", atKill, time.Since(start).Round(time.Millisecond), crashcheck.Read(t, filepath.Join(dir, "hub.db")))
	if atKill >= crashMessages {
		t.Fatalf("all %d updates were answered before the kill: the test tests nothing", crashMessages)
	}

	h = startHub(t, path)
	waitReplies(t, bot, crashMessages, "after the restart")
	if code := h.Stop(); code != 0 { // anything still queued is made before it exits
		t.Errorf("exit code %d after SIGTERM", code)
	}
	t.Logf("all answered %v after the first start", time.Since(start).Round(time.Millisecond))
	for line := range strings.Lines(h.Logs()) {
		if strings.Contains(line, "calls in flight at the last stop settled") {
			t.Logf("the restarted hub said: %s", strings.TrimSpace(line))
		}
	}

	want := make([]string, crashMessages)
	for i := range want {
		want[i] = fmt.Sprint("You said: m", i)
	}
	summary := crashcheck.Check(t, echoReplies(bot), want)
	// echo greets each chat when its scope opens — again after the restart
	// for a chat with updates left — outside any update: not counted.
	greetings := 0
	for _, r := range bot.Requests("sendMessage") {
		if strings.HasPrefix(r.Params["text"], "[Welcome ") {
			greetings++
		}
	}
	t.Logf("%s; %d greetings to %d chats", summary, greetings, crashChats)
	for _, logs := range []string{killedLogs, h.Logs()} {
		if strings.Contains(logs, token) || strings.Contains(logs, "e2e-crash-token-never-printed") {
			t.Errorf("the bot token is in the hub's output")
		}
	}
}

// echoReplies counts echo's replies ("You said: …") the fake received, by text.
func echoReplies(bot *telegramtest.Bot) map[string]int {
	out := map[string]int{}
	for _, r := range bot.Requests("sendMessage") {
		if text := r.Params["text"]; strings.HasPrefix(text, "You said: ") {
			out[text]++
		}
	}
	return out
}

// waitReplies waits until n distinct updates have been answered.
func waitReplies(t *testing.T, bot *telegramtest.Bot, n int, when string) {
	t.Helper()
	if !poll.Wait(crashTimeout, func() bool { return len(echoReplies(bot)) >= n }) {
		t.Fatalf("%s: %d of %d updates answered after %v", when, len(echoReplies(bot)), n, crashTimeout)
	}
}
