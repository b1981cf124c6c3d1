package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/adapters/internal/chattest"
	"github.com/hubhq/hub/adapters/telegram"
	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/plugins/echo"
)

const (
	tokenA = "111111:AAH-secret-token-of-bot-a"
	tokenB = "222222:BBH-secret-token-of-bot-b"
)

// hub is an adapter under test, with everything it logged.
type hub struct {
	*chattest.Hub[*telegram.Adapter]
}

// fastLimits keep tests quick where rates are not what is tested.
var fastLimits = telegram.Limits{Chat: 100, Group: 100, Burst: 10}

// startHub runs an adapter for bots against the fake until the test ends,
// then checks that no token reached the logs (the hub's, the client's, and
// the standard logger's).
func startHub(t *testing.T, app core.Application, db core.StateStore, opts telegram.Options) *hub {
	t.Helper()
	if opts.PollTimeout == 0 {
		opts.PollTimeout = 2 * time.Second
	}
	if opts.Limits == (telegram.Limits{}) {
		opts.Limits = fastLimits
	}
	cfg := chattest.Config{App: app, Store: db, Runtime: opts.Runtime, Tokens: tokens(opts.Bots), LogsEnv: "TELEGRAM_TEST_LOGS"}
	return &hub{chattest.Start(t, cfg, func(rt *core.Runtime) (*telegram.Adapter, error) {
		opts.Runtime, opts.Logger = rt, rt.Logger
		return telegram.New(opts)
	})}
}

// tokens are the bots' tokens for chattest's log check: whole, and the
// secret after the bot's id.
func tokens(bots []telegram.BotConfig) []chattest.Token {
	out := make([]chattest.Token, len(bots))
	for i, b := range bots {
		out[i] = chattest.Token{Bot: b.Name, Value: string(b.Token), Skip: 7}
	}
	return out
}

func bot(name string, token string, fake *telegramtest.Server) telegram.BotConfig {
	return telegram.BotConfig{Name: name, Token: telegram.Token(token), APIURL: fake.URL()}
}

func wrap(m *models.Message) *models.Update { return &models.Update{Message: m} }

func itoa(n int64) string { return fmt.Sprint(n) }

func texts(msgs []telegramtest.Message) []string {
	return chattest.Texts(msgs, func(m telegramtest.Message) string { return m.Text })
}

func assertTexts(t *testing.T, got []telegramtest.Message, want ...string) {
	t.Helper()
	chattest.AssertTexts(t, texts(got), want...)
}

func TestEchoAnswersStartAndMessages(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	startHub(t, core.Named("echo", echo.New()), chattest.OpenStore(t), telegram.Options{Bots: []telegram.BotConfig{bot("echo", tokenA, fake)}})

	start := tg.PushMessage(42, "ada", "/start@echo_bot")
	hello := tg.PushMessage(42, "ada", "hello")
	got := tg.WaitSent(t, 42, 3)
	assertTexts(t, got, "[Welcome Anonymous!]", "I repeat what you say. /name NAME tells me who you are.", "You said: hello")
	if got[0].ReplyTo != 0 || got[1].ReplyTo != start.ID || got[2].ReplyTo != hello.ID {
		t.Fatalf("replies point to %d, %d, %d; want 0, %d, %d", got[0].ReplyTo, got[1].ReplyTo, got[2].ReplyTo, start.ID, hello.ID)
	}
}

func TestSeveralBotsKeepSeparateConversations(t *testing.T) {
	fake := telegramtest.New(t)
	a, b := fake.AddBot(tokenA, "a_bot"), fake.AddBot(tokenB, "b_bot")
	startHub(t, core.Named("echo", echo.New()), chattest.OpenStore(t), telegram.Options{Bots: []telegram.BotConfig{bot("a", tokenA, fake), bot("b", tokenB, fake)}})

	a.PushMessage(42, "ada", "/name Ada")
	a.WaitSent(t, 42, 2)
	a.PushMessage(42, "ada", "hi")
	b.PushMessage(42, "ada", "hi")
	assertTexts(t, a.WaitSent(t, 42, 3), "[Welcome Anonymous!]", "[set your username to Ada]", "Ada: You said: hi")
	// The same chat with another bot is another scope, with its own state.
	assertTexts(t, b.WaitSent(t, 42, 2), "[Welcome Anonymous!]", "You said: hi")
}

func TestRetryAfterIsHonoured(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	startHub(t, echo.New(), nil, telegram.Options{Bots: []telegram.BotConfig{bot("echo", tokenA, fake)}})

	tg.FailNext("sendMessage", http.StatusTooManyRequests, 1)
	tg.PushMessage(42, "ada", "hello")
	assertTexts(t, tg.WaitSent(t, 42, 2), "[Welcome Anonymous!]", "You said: hello")

	reqs := tg.Requests("sendMessage")
	if len(reqs) != 3 {
		t.Fatalf("%d sendMessage requests, want 3 (refused, retried, reply)", len(reqs))
	}
	if wait := reqs[1].Time.Sub(reqs[0].Time); wait < time.Second {
		t.Fatalf("retried %v after a 429 with retry_after 1s", wait)
	}
	if n := tg.FloodViolations(); n != 0 {
		t.Fatalf("%d requests reached the fake during retry_after", n)
	}
}

func TestPerChatRateIsRespected(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "burst_bot")
	const perChat = 4 // messages a second
	startHub(t, chattest.Burst(4), nil, telegram.Options{
		Bots:   []telegram.BotConfig{bot("burst", tokenA, fake)},
		Limits: telegram.Limits{Chat: perChat, Burst: 1},
	})
	tg.PushMessage(42, "ada", "go")
	tg.WaitSent(t, 42, 4)
	// The limiter spaces the calls it lets go, but their arrival jitters
	// (a lot on a busy machine under -race): check the span from the first
	// to the last, with one interval of slack. Unlimited, it is a few
	// milliseconds.
	reqs := tg.Requests("sendMessage")
	interval := time.Second / perChat
	if span, want := reqs[len(reqs)-1].Time.Sub(reqs[0].Time), time.Duration(len(reqs)-2)*interval; span < want {
		t.Fatalf("%d messages came within %v, want at least %v", len(reqs), span, want)
	}
}

// farewell is echo that also says goodbye when its scope closes.
type farewell struct{ *echo.Echo }

func (f farewell) Disconnect(c *consumers.ChatConn, d chat.Disconnect) error {
	return c.Send("bye (" + d.Reason + ")")
}

func TestIdleTimeoutEndsScopeAndStateSurvives(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	app := core.Named("echo", consumers.NewChat(func() consumers.ChatHandler { return farewell{&echo.Echo{}} }))
	h := startHub(t, app, chattest.OpenStore(t), telegram.Options{
		Bots:        []telegram.BotConfig{bot("echo", tokenA, fake)},
		IdleTimeout: 300 * time.Millisecond,
	})

	tg.PushMessage(42, "ada", "/name Ada")
	assertTexts(t, tg.WaitSent(t, 42, 3), "[Welcome Anonymous!]", "[set your username to Ada]", "bye (idle)")
	chattest.Eventually(t, "the idle scope ends", func() bool { return h.Runtime.Metrics.Live() == 0 })
	tg.PushMessage(42, "ada", "back")
	got := tg.WaitSent(t, 42, 5)
	assertTexts(t, got[3:], "[Welcome Ada!]", "Ada: You said: back")
	if n := h.Runtime.Metrics.Opened.Load(); n != 2 {
		t.Fatalf("%d scopes opened, want 2", n)
	}
}

func TestShutdownDisconnectsOpenScopes(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	h := startHub(t, consumers.NewChat(func() consumers.ChatHandler { return farewell{&echo.Echo{}} }), nil, telegram.Options{
		Bots: []telegram.BotConfig{bot("echo", tokenA, fake)},
	})
	tg.PushMessage(42, "ada", "hi")
	tg.WaitSent(t, 42, 2)
	h.Shutdown(t)
	assertTexts(t, tg.Sent(42), "[Welcome Anonymous!]", "You said: hi", "bye (shutdown)")
}

func TestForumTopicsAreSeparateScopes(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	keys := make(chan string, 4)
	app := consumers.NewChat(func() consumers.ChatHandler {
		return consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
			keys <- c.Scope.Key
			return c.Reply(m, "topic "+m.Chat.Thread)
		})
	})
	startHub(t, app, nil, telegram.Options{Bots: []telegram.BotConfig{bot("forum", tokenA, fake)}})
	for _, thread := range []int{7, 9} {
		m := telegramtest.NewMessage(-100, "ada", "hi")
		m.MessageThreadID, m.IsTopicMessage = thread, true
		tg.PushUpdate(&models.Update{Message: m})
	}
	// Topics are scopes of their own, served in parallel: compare as sets.
	got := map[string]bool{}
	for _, m := range tg.WaitSent(t, -100, 2) {
		got[fmt.Sprint(m.ThreadID, " ", m.Text)] = true
	}
	if !got["7 topic 7"] || !got["9 topic 9"] {
		t.Fatalf("sent %v, want each topic answered in itself", got)
	}
	k1, k2 := <-keys, <-keys
	if k1 > k2 {
		k1, k2 = k2, k1
	}
	if k1 != "telegram:forum:-100:7" || k2 != "telegram:forum:-100:9" {
		t.Fatalf("scope keys %q, %q", k1, k2)
	}
}

func TestWebhook(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "hook_bot")
	mux := http.NewServeMux() // the hub's HTTP server
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg := bot("hook", tokenA, fake)
	cfg.Mode, cfg.WebhookURL, cfg.WebhookSecret = telegram.Webhook, srv.URL+"/telegram/hook", "s3cret"
	h := startHub(t, echo.New(), nil, telegram.Options{Bots: []telegram.BotConfig{cfg}})
	handler, err := h.Adapter.Webhook("hook")
	if err != nil {
		t.Fatal(err)
	}
	// Run registers the webhook as soon as it starts; until the handler is
	// mounted the fake's deliveries fail and are retried, as Telegram's are.
	mux.Handle("/telegram/hook", handler)

	tg.PushMessage(42, "ada", "hooked")
	assertTexts(t, tg.WaitSent(t, 42, 2), "[Welcome Anonymous!]", "You said: hooked")
	if r := tg.Requests("setWebhook"); len(r) != 1 || r[0].Params["secret_token"] != "s3cret" || r[0].Params["url"] != cfg.WebhookURL {
		t.Fatalf("setWebhook calls %+v", r)
	}
	if n := len(tg.Requests("getUpdates")); n != 0 {
		t.Fatalf("a webhook bot polled %d times", n)
	}

	body := `{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"forged"}}`
	for _, secret := range []string{"", "wrong"} {
		req, _ := http.NewRequest(http.MethodPost, cfg.WebhookURL, strings.NewReader(body))
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("secret %q: status %d, want 401", secret, resp.StatusCode)
		}
	}
}

func TestPollingRemovesAWebhook(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	tg.PushUpdate(&models.Update{}) // nothing about a chat: ignored
	setWebhook(t, fake, "http://127.0.0.1:1/old")
	startHub(t, echo.New(), nil, telegram.Options{Bots: []telegram.BotConfig{bot("echo", tokenA, fake)}})
	tg.PushMessage(42, "ada", "hi")
	assertTexts(t, tg.WaitSent(t, 42, 2), "[Welcome Anonymous!]", "You said: hi")
	tg.WaitRequests(t, "deleteWebhook", 1)
}

func setWebhook(t *testing.T, fake *telegramtest.Server, url string) {
	t.Helper()
	resp, err := http.PostForm(fake.URL()+"/bot"+tokenA+"/setWebhook", map[string][]string{"url": {url}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setWebhook: %d", resp.StatusCode)
	}
}

func TestBadTokenFailsRunWithoutLeakingIt(t *testing.T) {
	fake := telegramtest.New(t)
	var logs chattest.Buffer
	a, err := telegram.New(telegram.Options{
		Bots:    []telegram.BotConfig{bot("ghost", tokenA, fake)}, // never added to the fake
		Runtime: &core.Runtime{App: echo.New()},
		Logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("Run = %v, want an unauthorized error naming the bot", err)
	}
	if strings.Contains(err.Error(), tokenA) {
		t.Fatalf("error leaks the token: %v", err)
	}
}

func TestOutageLogsNoToken(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	h := startHub(t, echo.New(), nil, telegram.Options{
		Bots:   []telegram.BotConfig{bot("echo", tokenA, fake)},
		Limits: telegram.Limits{Chat: 100, Burst: 10, Retries: 1},
	})
	tg.PushMessage(42, "ada", "hi")
	tg.WaitSent(t, 42, 2)
	fake.Close()
	chattest.Eventually(t, "the failed poll is logged", func() bool { return strings.Contains(h.Logs.String(), "getUpdates") })
	// startHub's cleanup checks the logs for the token.
}

func TestTokenNeverPrints(t *testing.T) {
	cfg := telegram.BotConfig{Name: "x", Token: tokenA}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "bot", cfg, "token", cfg.Token)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "bot", cfg, "token", cfg.Token)
	fmt.Fprintf(&buf, "%v %+v %#v %s %q %x %d", cfg, cfg, cfg, cfg.Token, cfg.Token, cfg.Token, cfg.Token)
	if strings.Contains(buf.String(), tokenA) || strings.Contains(buf.String(), fmt.Sprintf("%x", tokenA)) {
		t.Fatalf("token printed: %s", buf.String())
	}
}

func TestConfigErrors(t *testing.T) {
	rt := &core.Runtime{App: echo.New()}
	for _, tt := range []struct {
		opts telegram.Options
		want string
	}{
		{telegram.Options{}, "no runtime"},
		{telegram.Options{Runtime: rt, Bots: []telegram.BotConfig{{Token: "1:x"}}}, "no name"},
		{telegram.Options{Runtime: rt, Bots: []telegram.BotConfig{{Name: "a"}}}, "no token"},
		{telegram.Options{Runtime: rt, Bots: []telegram.BotConfig{{Name: "a:b", Token: "1:x"}}}, "may not contain"},
		{telegram.Options{Runtime: rt, Bots: []telegram.BotConfig{{Name: "a", Token: "1:x"}, {Name: "a", Token: "2:y"}}}, "two bots"},
		{telegram.Options{Runtime: rt, Bots: []telegram.BotConfig{{Name: "a", Token: "1:x", Mode: "carrier-pigeon"}}}, "unknown mode"},
	} {
		if _, err := telegram.New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.opts, err, tt.want)
		}
	}
}

// actor exercises every action: commands edit and delete its own
// messages, react and type; edits and button presses are answered.
type actor struct{}

func (actor) Receive(c *consumers.ChatConn, m *chat.Message) error {
	switch m.Command {
	case "edit":
		id, err := c.SendMessage(chat.Send{Text: "draft"})
		if err != nil {
			return err
		}
		return c.Edit(id, "final")
	case "delete":
		id, err := c.SendMessage(chat.Send{Text: "oops"})
		if err != nil {
			return err
		}
		return c.Delete(id)
	}
	if err := c.Typing(); err != nil {
		return err
	}
	return c.React(m.ID, "👍")
}

func (actor) Edited(c *consumers.ChatConn, e *chat.Edited) error {
	return c.Send("now it says " + e.Text)
}

func (actor) Event(c *consumers.ChatConn, ev core.Event) error {
	if q, ok := ev.(telegram.CallbackQuery); ok {
		if err := c.Do(telegram.AnswerCallback{CallbackID: q.ID, Text: "noted"}); err != nil {
			return err
		}
		return c.Send("pressed " + q.Data + " on " + q.MessageID)
	}
	return nil
}

func TestActions(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "act_bot")
	startHub(t, consumers.NewChat(func() consumers.ChatHandler { return actor{} }), nil, telegram.Options{Bots: []telegram.BotConfig{bot("act", tokenA, fake)}})

	hello := tg.PushMessage(42, "ada", "hello")
	tg.PushMessage(42, "ada", "/edit")
	tg.PushMessage(42, "ada", "/delete")
	edited := *hello
	edited.Text = "hello!"
	tg.PushUpdate(&models.Update{EditedMessage: &edited})
	tg.PushUpdate(&models.Update{CallbackQuery: &models.CallbackQuery{
		ID: "cb1", From: telegramtest.User("ada"), Data: "yes",
		Message: models.MaybeInaccessibleMessage{Message: &models.Message{ID: hello.ID, Date: 1, Chat: hello.Chat}},
	}})

	got := tg.WaitSent(t, 42, 4)
	assertTexts(t, got, "final", "oops", "now it says hello!", fmt.Sprintf("pressed yes on %d", hello.ID))
	if !got[0].Edited || !got[1].Deleted {
		t.Fatalf("edit and delete not applied: %+v", got)
	}
	if m, _ := tg.Message(42, hello.ID); m.Reaction != "👍" {
		t.Fatalf("reaction %q", m.Reaction)
	}
	if r := tg.Requests("sendChatAction"); len(r) != 1 || r[0].Params["action"] != "typing" {
		t.Fatalf("chat actions %+v", r)
	}
	if r := tg.Requests("answerCallbackQuery"); len(r) != 1 || r[0].Params["text"] != "noted" {
		t.Fatalf("callback answers %+v", r)
	}
}

func TestLongRetryAfterFailsFast(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	errs := make(chan error, 4)
	app := consumers.NewChat(func() consumers.ChatHandler {
		return consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
			errs <- c.Reply(m, "echo "+m.Text)
			return nil
		})
	})
	startHub(t, app, nil, telegram.Options{
		Bots:   []telegram.BotConfig{bot("echo", tokenA, fake)},
		Limits: telegram.Limits{Chat: 100, Burst: 10, MaxWait: time.Second},
	})
	tg.FailNext("sendMessage", http.StatusTooManyRequests, 3600)
	tg.PushMessage(42, "ada", "one") // meets the 429
	if err := <-errs; !errors.Is(err, telegram.ErrRateLimited) {
		t.Fatalf("send meeting a long retry_after: %v", err)
	}
	tg.PushMessage(42, "ada", "two") // fails at once, without a request
	if err := <-errs; !errors.Is(err, telegram.ErrRateLimited) {
		t.Fatalf("send during a long retry_after: %v", err)
	}
	tg.PushMessage(43, "bob", "elsewhere") // another chat is not held
	assertTexts(t, tg.WaitSent(t, 43, 1), "echo elsewhere")
	if n := tg.FloodViolations(); n != 0 {
		t.Fatalf("%d requests reached the fake during retry_after", n)
	}
}
