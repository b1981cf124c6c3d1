package discord_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/hubhq/hub/adapters/discord"
	"github.com/hubhq/hub/adapters/discord/discordtest"
	"github.com/hubhq/hub/adapters/internal/chattest"
	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/plugins/echo"
)

func echoApp() core.Application { return core.Named("echo", echo.New()) }

func TestEchoInAGuildChannelAndADM(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	startHub(t, echoApp(), chattest.OpenStore(t), discord.Options{Bots: []discord.BotConfig{bot("echo", tokenA, fake)}})

	hello := fake.PushMessage("c1", "g1", "ada", "hello")
	got := fake.WaitSent(t, "c1", 2)
	assertTexts(t, got, "[Welcome Anonymous!]", "You said: hello")
	if got[0].ReplyTo != "" || got[1].ReplyTo != hello.ID {
		t.Fatalf("replies point to %q, %q; want none, %q", got[0].ReplyTo, got[1].ReplyTo, hello.ID)
	}

	name := fake.PushMessage("d1", "", "bob", "/name Bob")
	fake.PushMessage("d1", "", "bob", "hi")
	got = fake.WaitSent(t, "d1", 3)
	assertTexts(t, got, "[Welcome Anonymous!]", "[set your username to Bob]", "Bob: You said: hi")
	if got[1].ReplyTo != name.ID {
		t.Fatalf("reply to %q, want %q", got[1].ReplyTo, name.ID)
	}
	fake.AddThread("t1", "c1", "g1")
	fake.PushMessage("t1", "g1", "ada", "in a thread")
	assertTexts(t, fake.WaitSent(t, "t1", 2), "[Welcome Anonymous!]", "You said: in a thread") // its own conversation
	if n := len(fake.Sent("c1")); n != 2 {
		t.Fatalf("%d messages in c1, want 2: the bot must not answer itself", n)
	}
	if got := fake.Intents(tokenA); got != discord.DefaultIntents {
		t.Fatalf("identified with intents %b, want %b", got, discord.DefaultIntents)
	}
}

func TestMessagesBecomeChatEvents(t *testing.T) {
	fake := discordtest.New(t)
	me := fake.AddBot(tokenA, "echo_bot")
	fake.AddThread("t1", "c1", "g1")
	app, events := recorder(nil)
	startHub(t, app, nil, discord.Options{Bots: []discord.BotConfig{bot("hub", tokenA, fake)}})

	first := fake.PushMessage("c1", "g1", "ada", "first")
	r := next(t, events)
	m, ok := r.ev.(*chat.Message)
	if !ok || r.scope.Key != "discord:hub:c1" || r.scope.Type != "discord" || r.scope.Bot != "hub" {
		t.Fatalf("got %T in scope %s", r.ev, r.scope.Key)
	}
	user := discordtest.User("ada")
	if m.ID != first.ID || m.Text != "first" || m.Sender.ID != user.ID || m.Sender.Name != "ada" || m.Chat.ID != "c1" || m.Chat.Private || m.Platform != "discord" || m.Bot != "hub" {
		t.Fatalf("message %+v", m)
	}
	if _, ok := m.Raw.(*discordgo.MessageCreate); !ok {
		t.Fatalf("Raw is %T", m.Raw)
	}

	fake.PushReply("c1", "g1", "ada", "!help me", first.ID)
	m = next(t, events).ev.(*chat.Message)
	if m.Command != "help" || m.Args != "me" || m.ReplyTo == nil || m.ReplyTo.ID != first.ID || m.ReplyTo.Text != "first" {
		t.Fatalf("command reply %+v (reply to %+v)", m, m.ReplyTo)
	}

	fake.PushMessage("t1", "g1", "ada", "in a thread")
	r = next(t, events)
	m = r.ev.(*chat.Message)
	if r.scope.Key != "discord:hub:c1:t1" || m.Chat.ID != "c1" || m.Chat.Thread != "t1" {
		t.Fatalf("thread message in %s: %+v", r.scope.Key, m.Chat)
	}

	fake.PushEdit("c1", first.ID, "first, edited")
	if e, ok := next(t, events).ev.(*chat.Edited); !ok || e.ID != first.ID || e.Text != "first, edited" {
		t.Fatalf("edit: %+v", e)
	}
	fake.PushReaction("c1", first.ID, "bob", "👍")
	if e, ok := next(t, events).ev.(discord.ReactionAdd); !ok || e.MessageID != first.ID || e.Emoji != "👍" || e.Sender.ID != discordtest.User("bob").ID {
		t.Fatalf("reaction: %+v", e)
	}
	fake.PushReactionRemove("c1", first.ID, "bob", "👍")
	if e, ok := next(t, events).ev.(discord.ReactionRemove); !ok || e.Emoji != "👍" {
		t.Fatalf("reaction removed: %+v", e)
	}
	fake.PushDelete("c1", first.ID)
	if e, ok := next(t, events).ev.(discord.MessageDelete); !ok || e.ID != first.ID || e.Chat.ID != "c1" {
		t.Fatalf("delete: %+v", e)
	}
	// The bot's own messages and reactions are not events.
	fake.PushDispatch("MESSAGE_CREATE", &discordgo.Message{ID: "1", ChannelID: "c1", GuildID: "g1", Author: me, Content: "mine"})
	fake.PushReaction("c1", first.ID, "echo_bot", "👀")
	fake.PushMessage("d1", "", "ada", "dm")
	r = next(t, events)
	if m := r.ev.(*chat.Message); r.scope.Key != "discord:hub:d1" || m.Text != "dm" || !m.Chat.Private || m.Chat.Title != "ada" {
		t.Fatalf("after the bot's own events, got %+v in %s", r.ev, r.scope.Key)
	}
}

func TestSlashCommandIsAnsweredThroughTheCallback(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	app, events := recorder(func(ev core.Event) []core.Event {
		if i, ok := ev.(discord.Interaction); ok {
			r := i.Respond("pong " + i.Args)
			r.Ephemeral = true
			return []core.Event{r}
		}
		return nil
	})
	startHub(t, app, nil, discord.Options{Bots: []discord.BotConfig{bot("hub", tokenA, fake)}})

	id := fake.PushInteraction("c1", "g1", "ada", "ping", map[string]string{"to": "bob", "loud": "no"})
	r := next(t, events)
	i := r.ev.(discord.Interaction)
	if r.scope.Key != "discord:hub:c1" || i.Command != "ping" || i.Args != "loud=no to=bob" || i.Options["to"] != "bob" || i.Sender.Name != "ada" {
		t.Fatalf("interaction %+v in %s", i, r.scope.Key)
	}
	resp := fake.WaitInteractionResponse(t, id)
	if resp.Content != "pong loud=no to=bob" || !resp.Ephemeral || resp.Type != discordgo.InteractionResponseChannelMessageWithSource {
		t.Fatalf("response %+v", resp)
	}
}

func TestActions(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	type ids struct{ sent, target string }
	got := make(chan ids, 1)
	h := consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
		id, err := c.SendMessage(chat.Send{Text: "draft"})
		if err != nil {
			return err
		}
		for _, err := range []error{
			c.Edit(id, "final"),
			c.React(m.ID, "👀"),
			c.React(m.ID, "✅"), // replaces 👀
			c.React(id, "🗑"),
			c.React(id, ""), // removes it
			c.Typing(),
			c.Delete(m.ID),
		} {
			if err != nil {
				return err
			}
		}
		got <- ids{id, m.ID}
		return nil
	})
	startHub(t, consumers.NewChat(func() consumers.ChatHandler { return h }), nil, discord.Options{Bots: []discord.BotConfig{bot("hub", tokenA, fake)}})

	fake.PushMessage("c1", "g1", "ada", "go")
	var r ids
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("actions not done")
	}
	sent, _ := fake.Message(r.sent)
	target, _ := fake.Message(r.target)
	if sent.Content != "final" || !sent.Edited || len(sent.Reactions) != 0 {
		t.Fatalf("sent message %+v", sent)
	}
	if !target.Deleted || strings.Join(target.Reactions, ",") != "✅" {
		t.Fatalf("target message %+v", target)
	}
	if n := len(fake.Requests("POST /channels/{id}/typing")); n != 1 {
		t.Fatalf("%d typing requests", n)
	}
}

func TestSeveralBotsAgainstTwoServers(t *testing.T) {
	fakeA, fakeB := discordtest.New(t), discordtest.New(t)
	fakeA.AddBot(tokenA, "a_bot")
	fakeB.AddBot(tokenB, "b_bot")
	apiBefore := discordgo.EndpointAPI
	startHub(t, echoApp(), chattest.OpenStore(t), discord.Options{Bots: []discord.BotConfig{bot("a", tokenA, fakeA), bot("b", tokenB, fakeB)}})

	fakeA.PushMessage("c1", "g1", "ada", "/name Ada")
	fakeA.WaitSent(t, "c1", 2)
	fakeA.PushMessage("c1", "g1", "ada", "hi")
	fakeB.PushMessage("c1", "g1", "ada", "hi") // the same ids on another server: another bot's scope
	assertTexts(t, fakeA.WaitSent(t, "c1", 3), "[Welcome Anonymous!]", "[set your username to Ada]", "Ada: You said: hi")
	assertTexts(t, fakeB.WaitSent(t, "c1", 2), "[Welcome Anonymous!]", "You said: hi")
	for fake, name := range map[*discordtest.Server]string{fakeA: "a_bot", fakeB: "b_bot"} {
		for _, r := range fake.Requests("") {
			if r.Bot != name && r.Route != "GET /gateway" {
				t.Errorf("%s got %s from %q", name, r.Route, r.Bot)
			}
		}
	}
	if discordgo.EndpointAPI != apiBefore {
		t.Fatal("discordgo's endpoints were changed")
	}
}

// ack answers every message with "ack <text>", so a test can count how
// often each was handled.
func ack() core.Application {
	return consumers.NewChat(func() consumers.ChatHandler {
		return consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error { return c.Send("ack " + m.Text) })
	})
}

// assertEachAckedOnce waits for n acks in c1 and checks each message 1…n was
// answered exactly once, in order.
func assertEachAckedOnce(t *testing.T, fake *discordtest.Server, n int) {
	t.Helper()
	got := texts(fake.WaitSent(t, "c1", n))
	for i, text := range got {
		if text != fmt.Sprint("ack ", i+1) {
			t.Fatalf("acks %q, want ack 1 … ack %d, each once", got, n)
		}
	}
	if len(got) != n {
		t.Fatalf("%d acks for %d messages: %q", len(got), n, got)
	}
}

func TestGatewayFailuresLoseNoMessageAndRepeatNone(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "ack_bot")
	startHub(t, ack(), nil, discord.Options{Bots: []discord.BotConfig{bot("ack", tokenA, fake)}})
	fake.WaitConnected(t, tokenA)

	n := 0
	push := func(k int) {
		for range k {
			n++
			fake.PushMessage("c1", "g1", "ada", fmt.Sprint(n))
		}
	}
	t.Run("dropped connection", func(t *testing.T) {
		push(5)
		fake.DropConnection() // mid-stream: some of the five may not have been read
		push(5)
		fake.WaitCount(t, "resumes", fake.Resumes, 1)
		push(3)
		assertEachAckedOnce(t, fake, n)
		if fake.Replayed() < 5 {
			t.Fatalf("%d dispatches replayed, want at least the 5 pushed while disconnected", fake.Replayed())
		}
	})
	t.Run("reconnect request", func(t *testing.T) {
		push(3)
		fake.SendReconnect()
		push(3)
		fake.WaitCount(t, "resumes", fake.Resumes, 2)
		push(2)
		assertEachAckedOnce(t, fake, n)
	})
	t.Run("invalid session", func(t *testing.T) {
		push(2)
		fake.InvalidateSession()
		push(3)
		fake.WaitCount(t, "identifies", fake.Identifies, 2)
		push(2)
		assertEachAckedOnce(t, fake, n)
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	startHub(t, echo.New(), nil, discord.Options{Bots: []discord.BotConfig{bot("echo", tokenA, fake)}})

	const retryAfter = 500 * time.Millisecond
	fake.FailNext("POST /channels/{id}/messages", http.StatusTooManyRequests, retryAfter)
	fake.PushMessage("c1", "g1", "ada", "hello")
	assertTexts(t, fake.WaitSent(t, "c1", 2), "[Welcome Anonymous!]", "You said: hello")

	reqs := fake.Requests("POST /channels/{id}/messages")
	if len(reqs) != 3 {
		t.Fatalf("%d message requests, want 3 (refused, retried, reply)", len(reqs))
	}
	if wait := reqs[1].Time.Sub(reqs[0].Time); wait < retryAfter {
		t.Fatalf("retried %v after a 429 with retry_after %v", wait, retryAfter)
	}
	if n := fake.FloodViolations(); n != 0 {
		t.Fatalf("%d requests reached the fake during retry_after", n)
	}
}

func TestPerChannelRateIsRespected(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "burst_bot")
	const perChannel = 4 // messages a second
	startHub(t, chattest.Burst(4), nil, discord.Options{
		Bots:   []discord.BotConfig{bot("burst", tokenA, fake)},
		Limits: discord.Limits{Channel: perChannel, Burst: 1},
	})
	fake.PushMessage("c1", "g1", "ada", "go")
	got := fake.WaitSent(t, "c1", 4)
	if d := got[3].Time.Sub(got[0].Time); d < 3*time.Second/perChannel-50*time.Millisecond {
		t.Fatalf("4 messages within %v at %d a second", d, perChannel)
	}
}

func TestIdleTimeoutEndsScopeAndStateSurvives(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	h := startHub(t, echoApp(), chattest.OpenStore(t), discord.Options{
		Bots:        []discord.BotConfig{bot("echo", tokenA, fake)},
		IdleTimeout: 200 * time.Millisecond,
	})
	fake.PushMessage("d1", "", "ada", "/name Ada")
	fake.WaitSent(t, "d1", 2)
	chattest.Eventually(t, "the idle scope closed", func() bool { return h.Runtime.Metrics.Closed.Load() == 1 })
	fake.PushMessage("d1", "", "ada", "back")
	assertTexts(t, fake.WaitSent(t, "d1", 4), "[Welcome Anonymous!]", "[set your username to Ada]", "[Welcome Ada!]", "Ada: You said: back")
	if n := h.Runtime.Metrics.Opened.Load(); n != 2 {
		t.Fatalf("%d scopes opened, want 2", n)
	}
}

func TestShutdownDisconnectsOpenScopes(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	app, events := recorder(nil)
	h := startHub(t, app, nil, discord.Options{Bots: []discord.BotConfig{bot("hub", tokenA, fake)}})
	fake.PushMessage("c1", "g1", "ada", "hello")
	next(t, events)
	h.Shutdown(t)
	if d, ok := next(t, events).ev.(chat.Disconnect); !ok || d.Reason != "shutdown" {
		t.Fatalf("last event %+v, want a shutdown disconnect", d)
	}
}

func TestBadTokenFailsRunWithoutLeakingIt(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	logs := &chattest.Buffer{}
	a, err := discord.New(discord.Options{
		Bots:    []discord.BotConfig{bot("echo", tokenB, fake)},
		Runtime: &core.Runtime{App: echo.New()},
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(context.Background())
	var rest *discordgo.RESTError
	if !errors.As(err, &rest) || rest.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Run with a wrong token: %v", err)
	}
	if strings.Contains(err.Error(), tokenB) || strings.Contains(logs.String(), tokenB) {
		t.Fatalf("token leaked: %v\n%s", err, logs)
	}
}

func TestTokenNeverPrints(t *testing.T) {
	tok := discord.Token(tokenA)
	cfg := discord.BotConfig{Name: "a", Token: tok}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q", cfg, cfg, cfg, tok, tok)} {
		if strings.Contains(s, tokenA) {
			t.Fatalf("token printed: %s", s)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	rt := &core.Runtime{App: echo.New()}
	for _, tt := range []struct {
		name string
		opts discord.Options
		want string
	}{
		{"no runtime", discord.Options{}, "no runtime"},
		{"no name", discord.Options{Runtime: rt, Bots: []discord.BotConfig{{Token: "x"}}}, "no name"},
		{"no token", discord.Options{Runtime: rt, Bots: []discord.BotConfig{{Name: "a"}}}, "no token"},
		{"twice", discord.Options{Runtime: rt, Bots: []discord.BotConfig{{Name: "a", Token: "x"}, {Name: "a", Token: "y"}}}, "two bots"},
		{"bad url", discord.Options{Runtime: rt, Bots: []discord.BotConfig{{Name: "a", Token: "x", APIURL: "localhost:80"}}}, "api_url"},
	} {
		if _, err := discord.New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestLongTextIsSentInParts(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	startHub(t, echo.New(), nil, discord.Options{Bots: []discord.BotConfig{bot("echo", tokenA, fake)}})

	long := strings.Repeat("many words ", 300) // 3300 characters
	in := fake.PushMessage("c1", "g1", "ada", long)
	got := fake.WaitSent(t, "c1", 3)
	if got[1].ReplyTo != in.ID || got[2].ReplyTo != "" || got[1].Content+got[2].Content != "You said: "+long {
		t.Fatalf("sent %d parts: %q", len(got)-1, texts(got[1:]))
	}
}

func TestLongRetryAfterFailsTheCall(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	errs := make(chan error, 2)
	h := consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
		errs <- c.Send("one")
		errs <- c.Send("two")
		return nil
	})
	startHub(t, consumers.NewChat(func() consumers.ChatHandler { return h }), nil, discord.Options{
		Bots:   []discord.BotConfig{bot("hub", tokenA, fake)},
		Limits: discord.Limits{Channel: 100, Burst: 10, MaxWait: 100 * time.Millisecond},
	})
	fake.FailNext("POST /channels/{id}/messages", http.StatusTooManyRequests, time.Hour)
	fake.PushMessage("c1", "g1", "ada", "go")
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, discord.ErrRateLimited) {
				t.Fatalf("send during an hour's retry_after: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("send still waiting")
		}
	}
	if n := fake.FloodViolations(); n != 0 || len(fake.Requests("POST /channels/{id}/messages")) != 1 {
		t.Fatalf("%d requests, %d during retry_after", len(fake.Requests("POST /channels/{id}/messages")), n)
	}
}

func TestOutageLogsNoTokenAndShutdownEndsReconnecting(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	h := startHub(t, echo.New(), nil, discord.Options{Bots: []discord.BotConfig{bot("echo", tokenA, fake)}})
	fake.PushMessage("c1", "g1", "ada", "hello")
	fake.WaitSent(t, "c1", 2)
	fake.Close() // Discord is gone: discordgo keeps trying to reconnect
	chattest.Eventually(t, "discordgo reported the failed reconnection", func() bool {
		return strings.Contains(h.Logs.String(), "error reconnecting to gateway")
	})
	h.Shutdown(t) // returns, though discordgo's reconnect loop cannot be cancelled
	chattest.AssertNoTokens(t, h.Logs.String(), tokens([]discord.BotConfig{bot("echo", tokenA, fake)})...)
}

// TestShutdownHandsOverQueuedEvents stops the hub while a consumer is busy
// and events wait behind it, in its inbox and in the adapter's queue:
// Discord will not send them again, so each must still reach the consumer.
func TestShutdownHandsOverQueuedEvents(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	release := make(chan struct{})
	app, events := recorder(func(ev core.Event) []core.Event {
		if m, ok := ev.(*chat.Message); ok && m.Text == "1" {
			<-release
		}
		return nil
	})
	h := startHub(t, app, nil, discord.Options{Bots: []discord.BotConfig{bot("hub", tokenA, fake)}, Runtime: &core.Runtime{InboxSize: 1}})
	for i := 1; i <= 5; i++ {
		fake.PushMessage("c1", "g1", "ada", fmt.Sprint(i))
	}
	if m := next(t, events).ev.(*chat.Message); m.Text != "1" {
		t.Fatalf("first event %q", m.Text)
	}
	// 2 fills the inbox, 3 waits for room, 4 and 5 wait in the queue:
	// Once the adapter has read every dispatch (what discordgo has not read
	// when it closes the connection is lost: Discord does not replay it in
	// a new session).
	chattest.Eventually(t, "the adapter read every dispatch", func() bool { return strings.Contains(h.Logs.String(), "seq=6") })
	go h.Stop()
	chattest.Eventually(t, "the gateway closed", func() bool { return strings.Contains(h.Logs.String(), "gateway disconnected") })
	close(release)
	for i := 2; i <= 5; i++ {
		if ev := next(t, events).ev; !isText(ev, fmt.Sprint(i)) {
			t.Fatalf("event %d after shutdown began: %T %+v", i, ev, ev)
		}
	}
	if d, ok := next(t, events).ev.(chat.Disconnect); !ok || d.Reason != "shutdown" {
		t.Fatalf("last event %+v, want a shutdown disconnect", d)
	}
}

func isText(ev core.Event, text string) bool {
	m, ok := ev.(*chat.Message)
	return ok && m.Text == text
}
