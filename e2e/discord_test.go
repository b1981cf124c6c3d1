package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hubhq/hub/adapters/discord/discordtest"
)

// TestDiscord runs the hub binary with a Discord bot routed to the bundled
// echo plugin, against the fake Discord in this process: a message in a
// guild channel and one in a DM are each greeted and echoed, and the token
// never shows in the output.
func TestDiscord(t *testing.T) {
	const secret = "e2e-discord-token-that-must-never-be-printed"
	token := "MTE2.discord." + secret
	fake := discordtest.New(t)
	fake.AddBot(token, "e2e_echo_bot")
	t.Setenv("HUB_E2E_DISCORD_TOKEN", token) // inherited by the hub process

	dir := t.TempDir()
	h := startHub(t, writeConfig(t, dir, `
listen: 127.0.0.1:0
store: ./hub.db
log: {level: debug}
bots:
  - name: echo
    platform: discord
    token: ${HUB_E2E_DISCORD_TOKEN}
    api_url: `+fake.URL()+`
routes:
  discord:
    - {bot: echo, consumer: echo}
`))

	for _, c := range []struct{ name, channel, guild string }{
		{"guild channel", "e2e-chan-1", "e2e-guild-1"},
		{"DM", "e2e-dm-1", ""},
	} {
		in := fake.PushMessage(c.channel, c.guild, "ada", "hello hub")
		sent := fake.WaitSent(t, c.channel, 2)
		if sent[0].Content != "[Welcome Anonymous!]" {
			t.Errorf("%s: greeting = %q", c.name, sent[0].Content)
		}
		if sent[1].Content != "You said: hello hub" || sent[1].ReplyTo != in.ID {
			t.Errorf("%s: echo = %q replying to %q, want a reply to %q", c.name, sent[1].Content, sent[1].ReplyTo, in.ID)
		}
	}

	resp, err := http.Get("http://" + h.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `hub_scopes_opened_total{protocol="discord"} 2`) {
		t.Errorf("/metrics lacks two discord scopes")
	}
	if code := h.Stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	logs := h.Logs()
	if strings.Contains(logs, secret) {
		t.Errorf("the bot token is in the hub's output:\n%s", logs)
	}
	if !strings.Contains(logs, "msg=stopped") {
		t.Errorf("no clean stop in the log:\n%s", logs)
	}
}

// TestDiscordBadToken checks that a token Discord refuses stops the hub
// with exit code 1 and an error that does not print the token.
func TestDiscordBadToken(t *testing.T) {
	const secret = "e2e-discord-refused-token-never-printed"
	fake := discordtest.New(t)
	fake.AddBot("MTE3.other.another-token", "other_bot")
	t.Setenv("HUB_E2E_DISCORD_TOKEN", "MTE4.refused."+secret)
	dir := t.TempDir()
	h := startHub(t, writeConfig(t, dir, `
listen: 127.0.0.1:0
store: ./hub.db
log: {level: debug}
bots:
  - {name: echo, platform: discord, token: "${HUB_E2E_DISCORD_TOKEN}", api_url: "`+fake.URL()+`"}
routes:
  discord:
    - {consumer: echo}
`))
	code := h.wait()
	logs := h.Logs()
	if code != 1 || !strings.Contains(logs, "discord adapter") {
		t.Errorf("exit code %d, want 1 with the adapter's error:\n%s", code, logs)
	}
	if strings.Contains(logs, secret) {
		t.Errorf("the refused token is in the output:\n%s", logs)
	}
}
