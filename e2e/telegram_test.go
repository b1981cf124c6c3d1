package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/internal/servertest"
)

// TestTelegram runs the hub binary with a Telegram bot routed to the
// bundled echo plugin, against the fake Bot API in this process: /start
// is answered, a message echoed, and the token never shows in the output.
// The bot polls, then takes webhooks the fake posts to the hub.
func TestTelegram(t *testing.T) {
	t.Run("polling", func(t *testing.T) { testTelegram(t, "127.0.0.1:0", "") })
	t.Run("webhook", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
		testTelegram(t, addr, `
    mode: webhook
    webhook_url: http://`+addr+`/telegram/echo
    webhook_secret: ${HUB_E2E_WEBHOOK_SECRET}`)
	})
}

func testTelegram(t *testing.T, listen, mode string) {
	const token = "777001:e2e-token-that-must-never-be-printed"
	fake := telegramtest.New(t)
	bot := fake.AddBot(token, "e2e_echo_bot")
	t.Setenv("HUB_E2E_TELEGRAM_TOKEN", token) // inherited by the hub process
	t.Setenv("HUB_E2E_WEBHOOK_SECRET", "e2e-hook-secret")

	dir := t.TempDir()
	h := startHub(t, writeConfig(t, dir, `
listen: `+listen+`
store: ./hub.db
log: {level: debug}
bots:
  - name: echo
    platform: telegram
    token: ${HUB_E2E_TELEGRAM_TOKEN}
    api_url: `+fake.URL()+mode+`
telegram: {poll_timeout: 1s}
routes:
  telegram:
    - consumer: echo   # no bot: every bot
`))

	bot.PushMessage(42, "ada", "/start")
	sent := bot.WaitSent(t, 42, 2)
	if sent[0].Text != "[Welcome Anonymous!]" || !strings.HasPrefix(sent[1].Text, "I repeat what you say") {
		t.Fatalf("answers to /start: %q, %q", sent[0].Text, sent[1].Text)
	}
	bot.PushMessage(42, "ada", "hello hub")
	if got := bot.WaitSent(t, 42, 3)[2].Text; got != "You said: hello hub" {
		t.Fatalf("echo = %q", got)
	}

	if mode != "" && (len(bot.Requests("setWebhook")) == 0 || len(bot.Requests("getUpdates")) > 0) {
		t.Errorf("webhook mode: %d setWebhook, %d getUpdates calls", len(bot.Requests("setWebhook")), len(bot.Requests("getUpdates")))
	}
	resp, err := http.Get("http://" + h.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `hub_scopes_opened_total{protocol="telegram"} 1`) {
		t.Errorf("/metrics lacks one telegram scope")
	}
	if code := h.Stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	logs := h.Logs()
	if strings.Contains(logs, token) || strings.Contains(logs, "e2e-token-that-must-never-be-printed") || strings.Contains(logs, "e2e-hook-secret") {
		t.Errorf("the bot token is in the hub's output:\n%s", logs)
	}
	if !strings.Contains(logs, "msg=stopped") {
		t.Errorf("no clean stop in the log:\n%s", logs)
	}
}

// TestTelegramBadToken checks that a token Telegram refuses stops the hub
// with exit code 1 and an error that does not print the token.
func TestTelegramBadToken(t *testing.T) {
	const token = "777002:e2e-refused-token-never-printed"
	fake := telegramtest.New(t)
	fake.AddBot("777003:another-token", "other_bot")
	t.Setenv("HUB_E2E_TELEGRAM_TOKEN", token)
	dir := t.TempDir()
	path := writeConfig(t, dir, `
listen: 127.0.0.1:0
store: ./hub.db
bots:
  - {name: echo, platform: telegram, token: "${HUB_E2E_TELEGRAM_TOKEN}", api_url: "`+fake.URL()+`"}
routes:
  telegram:
    - {bot: echo, consumer: echo}
`)
	h := startHub(t, path)
	code := h.wait()
	logs := h.Logs()
	if code != 1 || !strings.Contains(logs, "telegram adapter") {
		t.Errorf("exit code %d, want 1 with the adapter's error:\n%s", code, logs)
	}
	if strings.Contains(logs, "e2e-refused-token-never-printed") {
		t.Errorf("the refused token is in the output:\n%s", logs)
	}
}
