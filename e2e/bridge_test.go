package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
	"github.com/gorilla/websocket"

	"github.com/hubhq/hub/adapters/discord/discordtest"
	"github.com/hubhq/hub/adapters/telegram/telegramtest"
)

// TestBridge runs examples/bridge/hub.yaml itself with the hub binary,
// against the fake Telegram and Discord in this process and a WebSocket
// client in the chat room: every side reaches the other two and never
// itself, a reply stays a reply, an edit on Discord follows to Telegram and
// changes the browser's line in place and in the history, and after a
// restart of the hub an edit and a delete of an old message still follow,
// to Telegram, the browser and the history.
func TestBridge(t *testing.T) {
	const (
		tgToken = "777010:e2e-bridge-telegram-token"
		dcToken = "MTE5.bridge.e2e-bridge-discord-token"
		group   = int64(-1001234)
		channel = "998877"
		guild   = "e2e-guild"
	)
	tgFake, dc := telegramtest.New(t), discordtest.New(t)
	tg := tgFake.AddBot(tgToken, "support_bot")
	dc.AddBot(dcToken, "community_bot")
	for k, v := range map[string]string{
		"HUB_LISTEN": "127.0.0.1:0", "TELEGRAM_TOKEN": tgToken, "DISCORD_TOKEN": dcToken,
		"TELEGRAM_API_URL": tgFake.URL(), "DISCORD_API_URL": dc.URL(),
		"TELEGRAM_CHAT": "-1001234", "DISCORD_CHANNEL": channel,
	} {
		t.Setenv(k, v) // inherited by the hub process
	}
	example, err := os.ReadFile(filepath.Join("..", "examples", "bridge", "hub.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, t.TempDir(), string(example))
	h := startHub(t, cfg)
	web := dial(t, h.Addr, "lobby")

	// Setting up, as the example's README says: /bridge in each chat tells
	// whether it is bridged (and makes the fakes know the chats).
	tg.PushMessage(group, "Ada", "/bridge")
	if got := tg.WaitSent(t, group, 1)[0].Text; got != "This conversation is bridged to the room lobby." {
		t.Fatalf("/bridge in Telegram: %q", got)
	}
	dc.PushMessage(channel, guild, "bob", "!bridge")
	if got := dc.WaitSent(t, channel, 1)[0].Content; got != "This conversation is bridged to the room lobby." {
		t.Fatalf("!bridge in Discord: %q", got)
	}

	// Telegram → Discord and the browser.
	fromTG := tg.PushMessage(group, "Ada", "hello from telegram")
	dcCopy := dc.WaitSent(t, channel, 2)[1]
	if dcCopy.Content != "Ada: hello from telegram" {
		t.Fatalf("Discord got %q", dcCopy.Content)
	}
	tgLine := expectLine(t, web, line{ID: anyID, Message: "hello from telegram", User: "Ada", Room: "lobby"})

	// Discord → Telegram and the browser.
	fromDC := dc.PushMessage(channel, guild, "bob", "hello from discord")
	tgCopy := tg.WaitSent(t, group, 2)[1]
	if tgCopy.Text != "bob: hello from discord" {
		t.Fatalf("Telegram got %q", tgCopy.Text)
	}
	dcLine := expectLine(t, web, line{ID: anyID, Message: "hello from discord", User: "bob", Room: "lobby"})

	// The browser → both.
	send(t, web, "eve", "hello from the web")
	webLine := expectLine(t, web, line{ID: anyID, Message: "hello from the web", User: "eve", Room: "lobby"})
	if got := tg.WaitSent(t, group, 3)[2].Text; got != "eve: hello from the web" {
		t.Fatalf("Telegram got %q", got)
	}
	if got := dc.WaitSent(t, channel, 3)[2].Content; got != "eve: hello from the web" {
		t.Fatalf("Discord got %q", got)
	}

	// A reply in Telegram to the copy of bob's message answers bob's
	// original in Discord; one in Discord to the copy of Ada's answers hers.
	reply := telegramtest.NewMessage(group, "Ada", "hi bob")
	reply.ReplyToMessage = &models.Message{ID: tgCopy.ID}
	tg.PushUpdate(&models.Update{Message: reply})
	if got := dc.WaitSent(t, channel, 4)[3]; got.Content != "Ada: hi bob" || got.ReplyTo != fromDC.ID {
		t.Fatalf("Discord got %q replying to %q, want a reply to %s", got.Content, got.ReplyTo, fromDC.ID)
	}
	dc.PushReply(channel, guild, "bob", "hi ada", dcCopy.ID)
	if got := tg.WaitSent(t, group, 4)[3]; got.Text != "bob: hi ada" || got.ReplyTo != fromTG.ID {
		t.Fatalf("Telegram got %q replying to %d, want a reply to %d", got.Text, got.ReplyTo, fromTG.ID)
	}
	hiBob := expectLine(t, web, line{ID: anyID, Message: "hi bob", User: "Ada", Room: "lobby"})
	hiAda := expectLine(t, web, line{ID: anyID, Message: "hi ada", User: "bob", Room: "lobby"})

	// An edit on Discord follows to Telegram, and changes the browser's
	// line: the edit names it by its id.
	dc.PushEdit(channel, fromDC.ID, "hello from discord (typo fixed)")
	tg.WaitRequests(t, "editMessageText", 1)
	if m, _ := tg.Message(group, tgCopy.ID); m.Text != "bob: hello from discord (typo fixed)" {
		t.Fatalf("the Telegram copy reads %q after the edit", m.Text)
	}
	expectLine(t, web, line{ID: dcLine.ID, Message: "hello from discord (typo fixed)", User: "bob", Room: "lobby", Edited: true})
	// A newcomer's history has the edited text in the line's place (the
	// relay recorded the edit before it asked Telegram for its).
	history := []line{
		tgLine,
		{ID: dcLine.ID, Message: "hello from discord (typo fixed)", User: "bob", Room: "lobby", Edited: true},
		webLine, hiBob, hiAda,
	}
	newcomer := dial(t, h.Addr, "lobby")
	for _, want := range history {
		expectLine(t, newcomer, want)
	}

	// Nothing came back to where it was written.
	for _, m := range tg.Sent(group) {
		if m.Text == "Ada: hello from telegram" || m.Text == "Ada: hi bob" {
			t.Errorf("Telegram got its own message back: %q", m.Text)
		}
	}
	for _, m := range dc.Sent(channel) {
		if m.Content == "bob: hello from discord" || m.Content == "bob: hi ada" {
			t.Errorf("Discord got its own message back: %q", m.Content)
		}
	}

	// After a restart on the same database, an edit of the old message
	// still finds its copy, and so does a delete.
	if code := h.Stop(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	h = startHub(t, cfg)
	dc.WaitCount(t, "identifies", dc.Identifies, 2)
	web = dial(t, h.Addr, "lobby")
	for _, want := range history { // kept in the store
		expectLine(t, web, want)
	}
	dc.PushEdit(channel, fromDC.ID, "edited after a restart")
	tg.WaitRequests(t, "editMessageText", 2)
	if m, _ := tg.Message(group, tgCopy.ID); m.Text != "bob: edited after a restart" {
		t.Fatalf("the Telegram copy reads %q after the edit", m.Text)
	}
	expectLine(t, web, line{ID: dcLine.ID, Message: "edited after a restart", User: "bob", Room: "lobby", Edited: true})
	dc.PushDelete(channel, fromDC.ID)
	tg.WaitRequests(t, "deleteMessage", 1)
	if m, _ := tg.Message(group, tgCopy.ID); !m.Deleted {
		t.Fatalf("the Telegram copy is still there after its original was deleted")
	}
	expectLine(t, web, line{ID: dcLine.ID, Room: "lobby", Deleted: true})
	// The deleted line has left the history.
	newcomer = dial(t, h.Addr, "lobby")
	for _, want := range []line{tgLine, webLine, hiBob, hiAda} {
		expectLine(t, newcomer, want)
	}
	if n := len(tg.Sent(group)); n != 4 {
		t.Errorf("Telegram got %d messages, want 4: %+v", n, tg.Sent(group))
	}
	if texts := sentTexts(dc.Sent(channel)); !slices.Equal(texts, []string{
		"This conversation is bridged to the room lobby.", "Ada: hello from telegram", "eve: hello from the web", "Ada: hi bob",
	}) {
		t.Errorf("Discord got %q", texts)
	}
}

// line is a chat room frame: a line with its history id, or an edit or a
// deletion of the line with that id.
type line struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	User    string `json:"user"`
	Room    string `json:"room"`
	Edited  bool   `json:"edited"`
	Deleted bool   `json:"deleted"`
}

// anyID in an expected line stands for the history id every line of the
// room gets: any id, as long as there is one.
const anyID = "<any id>"

func readLine(t *testing.T, c *websocket.Conn) line {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(readTimeout))
	var got line
	if err := c.ReadJSON(&got); err != nil {
		t.Fatalf("reading the chat room: %v", err)
	}
	return got
}

// expectLine reads the next frame, which must be want, and returns it.
func expectLine(t *testing.T, c *websocket.Conn, want line) line {
	t.Helper()
	got := readLine(t, c)
	match := want
	if want.ID == anyID && got.ID != "" {
		match.ID = got.ID
	}
	if got != match {
		t.Fatalf("the chat room got %+v, want %+v", got, want)
	}
	return got
}

func sentTexts(ms []discordtest.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Content)
	}
	return out
}
