package bridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/discord"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/hubtest"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/plugins/bridge"
	"github.com/hubhq/hub/plugins/chatroom"
	"github.com/hubhq/hub/store"
)

// The bridged conversations of the tests: a Telegram group and a Discord
// channel, each through a bot of its own.
const (
	tgKey = "telegram:support:-1001234"
	dcKey = "discord:community:998877"
)

var (
	ada = chat.Sender{ID: "11", Name: "Ada"}
	bob = chat.Sender{ID: "22", Name: "", Username: "bob"}
)

// action is what a fake bot was asked to do in a conversation; ID is the
// platform id it gave a sent message.
type action struct {
	Scope  string
	Action core.Event
	ID     string
}

// fakeBot stands in for a chat adapter's bot: it performs the actions sent
// to its action channel and, like the adapters, links a sent copy of a hub
// message in the message map.
type fakeBot struct {
	t    *testing.T
	name string
	done chan action
	seq  int
}

func startBot(ctx context.Context, t *testing.T, wg *sync.WaitGroup, l layer.Layer, db *store.DB, platform, bot string) *fakeBot {
	f := &fakeBot{t: t, name: bot, done: make(chan action, 100)}
	wg.Go(func() {
		for {
			m, err := l.Receive(ctx, chat.ActionChannel(platform, bot))
			if err != nil {
				return
			}
			scope, ev, err := chat.ParseActionMessage(m)
			if err != nil {
				t.Errorf("%s: %v", bot, err)
				return
			}
			a := action{Scope: scope, Action: ev}
			if s, ok := ev.(chat.Send); ok {
				f.seq++
				a.ID = fmt.Sprintf("%s-copy-%d", bot, f.seq)
				if err := db.MessageLink(ctx, s.HubID, store.MessageCopy{Scope: scope, ID: a.ID}); err != nil {
					t.Errorf("%s: link: %v", bot, err)
				}
			}
			f.done <- a
		}
	})
	return f
}

// next waits for the bot's next action.
func (f *fakeBot) next() action {
	f.t.Helper()
	select {
	case a := <-f.done:
		return a
	case <-time.After(hubtest.DefaultTimeout):
		f.t.Fatalf("%s: no action within %v", f.name, hubtest.DefaultTimeout)
		return action{}
	}
}

// sent waits for the next action, which must be a message in scope.
func (f *fakeBot) sent(scope, text, replyTo string) action {
	f.t.Helper()
	a := f.next()
	s, ok := a.Action.(chat.Send)
	if !ok || a.Scope != scope || s.Text != text || s.ReplyTo != replyTo || s.HubID == "" {
		f.t.Fatalf("%s: got %+v, want a send of %q in %s replying to %q, with a hub id", f.name, a, text, scope, replyTo)
	}
	return a
}

// expect waits for the next action, which must be want in scope.
func (f *fakeBot) expect(scope string, want core.Event) {
	f.t.Helper()
	if a := f.next(); a.Scope != scope || a.Action != want {
		f.t.Fatalf("%s: got %+v, want %+v in %s", f.name, a, want, scope)
	}
}

func (f *fakeBot) nothing() {
	f.t.Helper()
	select {
	case a := <-f.done:
		f.t.Fatalf("%s: unexpected %+v", f.name, a)
	case <-time.After(hubtest.NothingWindow):
	}
}

// fixture is a hub with the bridge of "lobby" between tgKey and dcKey: its
// relay running, both bots faked, and helpers for each side.
type fixture struct {
	t         *testing.T
	hub       *hubtest.Hub
	mem       *layer.Memory
	bridge    *bridge.Bridge
	tg, dc    *fakeBot
	stopRelay func()
	stopBots  func()
}

func newFixture(t *testing.T) *fixture {
	mem := layer.NewMemory(layer.Options{})
	f := &fixture{t: t, hub: hubtest.NewHub(t, hubtest.Layer(mem)), mem: mem, bridge: newBridge(t)}
	f.start()
	t.Cleanup(func() { f.stop() })
	return f
}

func newBridge(t *testing.T) *bridge.Bridge {
	b, err := bridge.New(bridge.Config{Room: "lobby", Endpoints: []string{tgKey, dcKey}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// start runs the fake bots and the relay on the hub's current store.
func (f *fixture) start() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	db := f.hub.Store.(*store.DB)
	f.tg = startBot(ctx, f.t, &wg, f.mem, db, "telegram", "support")
	f.dc = startBot(ctx, f.t, &wg, f.mem, db, "discord", "community")
	f.stopBots = func() { cancel(); wg.Wait() }
	f.stopRelay = f.run(f.bridge)
	f.relayJoined()
}

// run runs b's relay until the returned function is called.
func (f *fixture) run(b *bridge.Bridge) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	log := slog.New(slog.NewTextHandler(f.t.Output(), nil))
	go func() {
		defer close(done)
		if err := b.Run(ctx, plugins.Env{Layer: f.mem, Store: f.hub.Store.(*store.DB), Log: log}); err != nil {
			f.t.Errorf("relay: %v", err)
		}
	}()
	return func() { cancel(); <-done }
}

// relayJoined waits until a relay is in the room: its group exists once
// one joined, before any browser does, and is gone once the last left.
func (f *fixture) relayJoined() {
	hubtest.Eventually(f.t, "the relay joined the room", func() bool { _, groups := f.mem.Size(); return groups == 1 })
}

func (f *fixture) stop() {
	f.stopRelay()
	f.stopBots()
}

// restart stops the hub, relay and bots included, and starts them again
// on the same database file.
func (f *fixture) restart() {
	f.stop()
	f.hub.Restart()
	f.start()
}

func (f *fixture) conversation(key string, who chat.Sender) *hubtest.ChatCommunicator {
	return f.hub.Chat(f.bridge, hubtest.Key(key), hubtest.As(who))
}

func (f *fixture) browser() *hubtest.WebSocketCommunicator {
	// Named as the server names it: the namespace of the room's history.
	app := core.URLRouter{core.Path(chatroom.Route, core.Named(chatroom.Name, chatroom.New(chatroom.Config{})))}
	c := f.hub.WebSocket(app, "/ws/chat/lobby/")
	c.Connect()
	return c
}

// anyID in an expected frame stands for the history id every line gets:
// any id, as long as there is one.
const anyID = "<any id>"

// expectLine reads the browser's next frame, which must be want, and
// returns it.
func expectLine(t *testing.T, c *hubtest.WebSocketCommunicator, want chatroom.Outbound) chatroom.Outbound {
	t.Helper()
	var got chatroom.Outbound
	c.ReceiveJSON(&got)
	match := want
	if want.ID == anyID && got.ID != "" {
		match.ID = got.ID
	}
	if got != match {
		t.Fatalf("browser got %+v, want %+v", got, want)
	}
	return got
}

func TestTelegramToDiscordAndBrowser(t *testing.T) {
	f := newFixture(t)
	web := f.browser()
	f.conversation(tgKey, ada).Say("hello from telegram")
	f.dc.sent(dcKey, "Ada: hello from telegram", "")
	expectLine(t, web, chatroom.Outbound{ID: anyID, Message: "hello from telegram", User: "Ada", Room: "lobby"})
	f.tg.nothing() // not back to its origin
}

func TestDiscordToTelegramAndBrowser(t *testing.T) {
	f := newFixture(t)
	web := f.browser()
	f.conversation(dcKey, bob).Say("hello from discord")
	f.tg.sent(tgKey, "bob: hello from discord", "")
	expectLine(t, web, chatroom.Outbound{ID: anyID, Message: "hello from discord", User: "bob", Room: "lobby"})
	f.dc.nothing()
}

func TestNewcomersSeePlatformLinesInTheHistory(t *testing.T) {
	f := newFixture(t)
	f.conversation(tgKey, ada).Say("before you came")
	f.dc.sent(dcKey, "Ada: before you came", "") // the relay has handled it
	web := f.browser()
	expectLine(t, web, chatroom.Outbound{ID: anyID, Message: "before you came", User: "Ada", Room: "lobby"})
	web.SendJSON(chatroom.Inbound{Message: "hi Ada", User: "eve"})
	expectLine(t, web, chatroom.Outbound{ID: anyID, Message: "hi Ada", User: "eve", Room: "lobby"})
	f.tg.sent(tgKey, "eve: hi Ada", "")
	f.dc.sent(dcKey, "eve: hi Ada", "")
}

func TestBrowserToBothPlatforms(t *testing.T) {
	f := newFixture(t)
	web := f.browser()
	web.SendJSON(chatroom.Inbound{Message: "hello from the web", User: "eve"})
	expectLine(t, web, chatroom.Outbound{ID: anyID, Message: "hello from the web", User: "eve", Room: "lobby"})
	tg := f.tg.sent(tgKey, "eve: hello from the web", "")
	dc := f.dc.sent(dcKey, "eve: hello from the web", "")
	if tg.Action.(chat.Send).HubID != dc.Action.(chat.Send).HubID {
		t.Fatalf("the copies have different hub ids: %+v, %+v", tg, dc)
	}
}

func TestAttachmentsAndEmptyMessages(t *testing.T) {
	f := newFixture(t)
	tg := f.conversation(tgKey, ada)
	tg.Deliver(&chat.Message{ID: "5", Sender: ada, Attachments: []chat.Attachment{{Kind: "photo", FileID: "AgAD"}}})
	f.dc.sent(dcKey, "Ada: [photo]", "")
	dc := f.conversation(dcKey, bob)
	dc.Deliver(&chat.Message{ID: "6", Text: "look", Sender: bob, Attachments: []chat.Attachment{{Kind: "document", URL: "https://cdn.example/a.pdf"}}})
	f.tg.sent(tgKey, "bob: look\nhttps://cdn.example/a.pdf", "")
	tg.Deliver(&chat.Message{ID: "7", Text: "  ", Sender: ada})
	f.dc.nothing()
}

// TestReplies checks that a reply stays a reply, pointing at each
// platform's own copy of the message answered.
func TestReplies(t *testing.T) {
	f := newFixture(t)
	tg, dc := f.conversation(tgKey, ada), f.conversation(dcKey, bob)
	question := dc.Say("anyone there?")
	copyInTG := f.tg.sent(tgKey, "bob: anyone there?", "")

	// Ada answers the copy in Telegram: Discord shows an answer to bob's original.
	tg.Deliver(&chat.Message{ID: "50", Text: "yes", Sender: ada, ReplyTo: &chat.MessageRef{ID: copyInTG.ID}})
	answer := f.dc.sent(dcKey, "Ada: yes", question.ID)

	// Bob answers the copy of Ada's answer in Discord.
	dc.Deliver(&chat.Message{ID: "51", Text: "great", Sender: bob, ReplyTo: &chat.MessageRef{ID: answer.ID}})
	f.tg.sent(tgKey, "bob: great", "50")

	// A reply to a message the bridge never saw is an ordinary message.
	tg.Deliver(&chat.Message{ID: "52", Text: "hm", Sender: ada, ReplyTo: &chat.MessageRef{ID: "1"}})
	f.dc.sent(dcKey, "Ada: hm", "")
}

func TestReplyToABrowserLine(t *testing.T) {
	f := newFixture(t)
	web := f.browser()
	web.SendJSON(chatroom.Inbound{Message: "hi all", User: "eve"})
	copyInTG := f.tg.sent(tgKey, "eve: hi all", "")
	copyInDC := f.dc.sent(dcKey, "eve: hi all", "")
	f.conversation(tgKey, ada).Deliver(&chat.Message{ID: "60", Text: "hi eve", Sender: ada, ReplyTo: &chat.MessageRef{ID: copyInTG.ID}})
	f.dc.sent(dcKey, "Ada: hi eve", copyInDC.ID)
}

// TestEditsFollow: an edit changes the copies, and the browser line in
// place: browsers are told the line's id, and newcomers get the new text.
func TestEditsFollow(t *testing.T) {
	f := newFixture(t)
	web := f.browser()
	dc := f.conversation(dcKey, bob)
	m := dc.Say("teh plan")
	copyInTG := f.tg.sent(tgKey, "bob: teh plan", "")
	orig := expectLine(t, web, chatroom.Outbound{ID: anyID, Message: "teh plan", User: "bob", Room: "lobby"})

	dc.Deliver(&chat.Edited{Message: chat.Message{ID: m.ID, Text: "the plan", Sender: bob}})
	f.tg.expect(tgKey, chat.Edit{MessageID: copyInTG.ID, Text: "bob: the plan"})
	expectLine(t, web, chatroom.Outbound{ID: orig.ID, Message: "the plan", User: "bob", Room: "lobby", Edited: true})
	f.dc.nothing()
	newcomer := f.browser() // the relay recorded the edit before it asked for the copy's
	expectLine(t, newcomer, chatroom.Outbound{ID: orig.ID, Message: "the plan", User: "bob", Room: "lobby", Edited: true})
	newcomer.ExpectNothing()

	// An edit of a message from before the bridge goes to no platform;
	// browsers get it as a line of its own, marked edited.
	dc.Deliver(&chat.Edited{Message: chat.Message{ID: "old", Text: "x", Sender: bob}})
	f.tg.nothing()
	if got := expectLine(t, web, chatroom.Outbound{ID: anyID, Message: "x", User: "bob", Room: "lobby", Edited: true}); got.ID == orig.ID {
		t.Fatalf("the edit of another message names the line %s", orig.ID)
	}
}

// TestEditOfALineStoredBeforeDerivedIDs: a line relayed by a hub that
// gave platform messages random hub ids is in the history and the map
// under that id; its edit still changes it in the history.
func TestEditOfALineStoredBeforeDerivedIDs(t *testing.T) {
	f := newFixture(t)
	db := f.hub.Store.(*store.DB)
	if err := db.MessageLink(t.Context(), "0123456789abcdef", store.MessageCopy{Scope: dcKey, ID: "700"}); err != nil {
		t.Fatal(err)
	}
	if err := chatroom.Remember(t.Context(), db, "lobby", "0123456789abcdef", "bob", "old text", chatroom.DefaultHistory); err != nil {
		t.Fatal(err)
	}
	f.conversation(dcKey, bob).Deliver(&chat.Edited{Message: chat.Message{ID: "700", Text: "new text", Sender: bob}})
	f.tg.nothing() // no copy was linked: nothing to edit there
	newcomer := f.browser()
	expectLine(t, newcomer, chatroom.Outbound{ID: "0123456789abcdef", Message: "new text", User: "bob", Room: "lobby", Edited: true})
	newcomer.ExpectNothing()
}

// TestDeletesFollowTheOriginalOnly: a deleted original goes from every
// platform, from the browsers and from the history; a deleted copy stays
// deleted where it was.
func TestDeletesFollowTheOriginalOnly(t *testing.T) {
	f := newFixture(t)
	web := f.browser()
	dc := f.conversation(dcKey, bob)
	m := dc.Say("oops")
	copyInTG := f.tg.sent(tgKey, "bob: oops", "")
	oops := expectLine(t, web, chatroom.Outbound{ID: anyID, Message: "oops", User: "bob", Room: "lobby"})
	dc.Deliver(discord.MessageDelete{ID: m.ID})
	f.tg.expect(tgKey, chat.Delete{MessageID: copyInTG.ID})
	expectLine(t, web, chatroom.Outbound{ID: oops.ID, Room: "lobby", Deleted: true})

	// A copy deleted in Discord (by a moderator, or by the relay itself
	// for a deleted original elsewhere) stays deleted there only.
	f.conversation(tgKey, ada).Say("keep me")
	copyInDC := f.dc.sent(dcKey, "Ada: keep me", "")
	keep := expectLine(t, web, chatroom.Outbound{ID: anyID, Message: "keep me", User: "Ada", Room: "lobby"})
	dc.Deliver(&discord.MessageDelete{ID: copyInDC.ID})
	f.tg.nothing()
	// Browsers hear of it, under an id that names no line of theirs.
	if got := expectLine(t, web, chatroom.Outbound{ID: anyID, Room: "lobby", Deleted: true}); got.ID == keep.ID || got.ID == oops.ID {
		t.Fatalf("the deletion of a copy names the line %s", got.ID)
	}

	newcomer := f.browser()
	expectLine(t, newcomer, chatroom.Outbound{ID: keep.ID, Message: "keep me", User: "Ada", Room: "lobby"})
	newcomer.ExpectNothing()
}

// TestEditAfterRestart is the message map at work: the edit of a message
// relayed before the hub restarted still finds its copy, and its line.
func TestEditAfterRestart(t *testing.T) {
	f := newFixture(t)
	m := f.conversation(dcKey, bob).Say("before the restart")
	copyInTG := f.tg.sent(tgKey, "bob: before the restart", "")
	f.restart()
	web := f.browser()
	orig := expectLine(t, web, chatroom.Outbound{ID: anyID, Message: "before the restart", User: "bob", Room: "lobby"})
	f.conversation(dcKey, bob).Deliver(&chat.Edited{Message: chat.Message{ID: m.ID, Text: "edited after it", Sender: bob}})
	f.tg.expect(tgKey, chat.Edit{MessageID: copyInTG.ID, Text: "bob: edited after it"})
	expectLine(t, web, chatroom.Outbound{ID: orig.ID, Message: "edited after it", User: "bob", Room: "lobby", Edited: true})
}

func TestOtherConversationsAndBots(t *testing.T) {
	f := newFixture(t)
	web := f.browser()
	other := f.conversation("telegram:support:42", ada)
	other.Say("hello?")
	other.Say("/bridge")
	other.Expect("This conversation is not bridged. To bridge it to the room lobby, add telegram:support:42 to the bridge's endpoints.")
	endpoint := f.conversation(tgKey, ada)
	endpoint.Say("/bridge")
	endpoint.Expect("This conversation is bridged to the room lobby.")
	f.conversation(dcKey, chat.Sender{ID: "99", Name: "OtherBridge", IsBot: true}).Say("a copy from elsewhere")
	f.tg.nothing()
	f.dc.nothing()
	web.ExpectNothing()
}

// TestOneRelayPerRoom covers a bridge on two routes (Telegram's and
// Discord's): two values, two Runs in one process, and still one copy of
// each message; when one route goes, the other's relay takes over.
func TestOneRelayPerRoom(t *testing.T) {
	f := newFixture(t)
	stopSecond := f.run(newBridge(t))
	defer stopSecond()
	tg := f.conversation(tgKey, ada)
	tg.Say("once")
	f.dc.sent(dcKey, "Ada: once", "")
	f.dc.nothing()

	f.stopRelay() // the first route is dropped: its relay has left the room
	f.stopRelay = func() {}
	f.relayJoined()
	tg.Say("still once")
	f.dc.sent(dcKey, "Ada: still once", "")
	f.dc.nothing()
}

func TestRunNeedsLayerAndStore(t *testing.T) {
	b, err := bridge.New(bridge.Config{Room: "lobby", Endpoints: []string{tgKey}})
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []plugins.Env{{Store: &store.DB{}}, {Layer: layer.NewMemory(layer.Options{})}} {
		if err := b.Run(t.Context(), env); err == nil {
			t.Errorf("Run with %+v: no error", env)
		}
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		opts plugins.Options
		err  string // "" for valid options
	}{
		{"valid", plugins.Options{"room": "lobby", "endpoints": []any{tgKey, dcKey, "discord:community:1:2"}}, ""},
		{"no room", plugins.Options{"endpoints": []any{tgKey}}, "room"},
		{"bad room", plugins.Options{"room": "a b", "endpoints": []any{tgKey}}, "invalid room name"},
		{"no endpoints", plugins.Options{"room": "lobby"}, "endpoints: none given"},
		{"not a scope key", plugins.Options{"room": "lobby", "endpoints": []any{"telegram:-1001234"}}, "endpoints[0]"},
		{"empty part", plugins.Options{"room": "lobby", "endpoints": []any{"telegram::1"}}, "not a conversation's scope key"},
		{"twice", plugins.Options{"room": "lobby", "endpoints": []any{tgKey, tgKey}}, "listed twice"},
		{"the browser room", plugins.Options{"room": "lobby", "endpoints": []any{"chatroom:lobby:x"}}, "always bridged"},
		{"bad bot name", plugins.Options{"room": "lobby", "endpoints": []any{"telegram:sup port:1"}}, "letters, digits"},
		{"typo", plugins.Options{"room": "lobby", "endpoint": []any{tgKey}}, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plugins.New("bridge", tt.opts)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("got %v, want an error about %q", err, tt.err)
			}
		})
	}
}
