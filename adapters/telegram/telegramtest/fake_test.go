package telegramtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/adapters/telegram/telegramtest"
)

const token = "123456:TEST-token-abc"

// client is the real go-telegram/bot client pointed at the fake.
func client(t *testing.T, fake *telegramtest.Server, opts ...bot.Option) *bot.Bot {
	t.Helper()
	opts = append([]bot.Option{
		bot.WithServerURL(fake.URL()),
		bot.WithHTTPClient(2*time.Second, &http.Client{Timeout: 5 * time.Second}),
		bot.WithErrorsHandler(func(err error) { t.Logf("client: %v", err) }),
	}, opts...)
	b, err := bot.New(token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGetMeAndWrongToken(t *testing.T) {
	fake := telegramtest.New(t)
	fake.AddBot(token, "hub_bot")
	me, err := client(t, fake).GetMe(context.Background())
	if err != nil || me.Username != "hub_bot" || me.ID != 123456 || !me.IsBot {
		t.Fatalf("getMe = %+v, %v", me, err)
	}
	_, err = bot.New("999:wrong", bot.WithServerURL(fake.URL()))
	if !errors.Is(err, bot.ErrorUnauthorized) {
		t.Fatalf("wrong token: %v, want unauthorized", err)
	}
}

func TestPollingDeliversInOrderAndConfirms(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(token, "hub_bot")
	tg.PushMessage(42, "ada", "one")
	tg.PushMessage(42, "ada", "two")

	got := make(chan *models.Update, 10)
	c := client(t, fake, bot.WithDefaultHandler(func(_ context.Context, _ *bot.Bot, u *models.Update) { got <- u }), bot.WithNotAsyncHandlers())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, want := range []string{"one", "two"} {
		u := <-got
		if u.Message.Text != want || u.Message.Chat.ID != 42 || u.Message.From.Username != "ada" {
			t.Fatalf("update %+v, want %q", u.Message, want)
		}
	}
	// Pushed while the client is long-polling: it arrives without a new poll cycle.
	tg.PushMessage(-100, "bob", "in a group")
	if u := <-got; u.Message.Text != "in a group" || u.Message.Chat.Type != models.ChatTypeSupergroup {
		t.Fatalf("group update %+v", u.Message)
	}
	// The next poll's offset confirms what was delivered.
	tg.WaitRequests(t, "getUpdates", 3)
	if n := tg.Pending(); n != 0 {
		t.Fatalf("%d updates still pending after confirmation", n)
	}
}

func TestActionsThroughRealClient(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(token, "hub_bot")
	in := tg.PushMessage(42, "ada", "hello")
	c := client(t, fake)
	ctx := context.Background()

	sent, err := c.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "hi", ReplyParameters: &models.ReplyParameters{MessageID: in.ID}})
	if err != nil || sent.ReplyToMessage == nil || sent.ReplyToMessage.ID != in.ID {
		t.Fatalf("sendMessage = %+v, %v", sent, err)
	}
	if _, err := c.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: 42, MessageID: sent.ID, Text: "hi!"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetMessageReaction(ctx, &bot.SetMessageReactionParams{ChatID: 42, MessageID: in.ID, Reaction: []models.ReactionType{{Type: models.ReactionTypeTypeEmoji, ReactionTypeEmoji: &models.ReactionTypeEmoji{Emoji: "👍"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendChatAction(ctx, &bot.SendChatActionParams{ChatID: 42, Action: models.ChatActionTyping}); err != nil {
		t.Fatal(err)
	}
	second, err := c.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "bye"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: 42, MessageID: second.ID}); err != nil {
		t.Fatal(err)
	}

	msgs := tg.WaitSent(t, 42, 2)
	if msgs[0].Text != "hi!" || !msgs[0].Edited || msgs[0].ReplyTo != in.ID || !msgs[1].Deleted {
		t.Fatalf("sent %+v", msgs)
	}
	if m, _ := tg.Message(42, in.ID); m.Reaction != "👍" {
		t.Fatalf("reaction %q", m.Reaction)
	}
	if r := tg.Requests("sendChatAction"); len(r) != 1 || r[0].Params["action"] != "typing" || r[0].ChatID != 42 {
		t.Fatalf("chat actions %+v", r)
	}
}

func TestAPIErrors(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(token, "hub_bot")
	tg.PushMessage(42, "ada", "hello")
	c := client(t, fake)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"empty text", func() error { _, err := c.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: " "}); return err }, "message text is empty"},
		{"unknown chat", func() error { _, err := c.SendMessage(ctx, &bot.SendMessageParams{ChatID: 7, Text: "x"}); return err }, "chat not found"},
		{"reply not found", func() error {
			_, err := c.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "x", ReplyParameters: &models.ReplyParameters{MessageID: 999}})
			return err
		}, "message to be replied not found"},
		{"edit a user's message", func() error {
			_, err := c.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: 42, MessageID: 1, Text: "x"})
			return err
		}, "message can't be edited"},
		{"delete unknown", func() error {
			_, err := c.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: 42, MessageID: 999})
			return err
		}, "message to delete not found"},
		{"stale callback", func() error {
			_, err := c.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: "nope"})
			return err
		}, "query is too old"},
	}
	for _, tt := range tests {
		err := tt.call()
		if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want bad request %q", tt.name, err, tt.want)
		}
	}
}

func TestTooManyRequestsIsEnforced(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(token, "hub_bot")
	tg.PushMessage(42, "ada", "hello")
	tg.PushMessage(43, "bob", "hello")
	c := client(t, fake)
	ctx := context.Background()

	tg.FailNext("sendMessage", http.StatusTooManyRequests, 30)
	_, err := c.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "x"})
	var tmr *bot.TooManyRequestsError
	if !errors.As(err, &tmr) || tmr.RetryAfter != 30 {
		t.Fatalf("first send: %v, want 429 retry after 30", err)
	}
	_, err = c.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "too soon"})
	if !errors.As(err, &tmr) || tmr.RetryAfter < 29 {
		t.Fatalf("send inside retry_after: %v, want 429", err)
	}
	if n := tg.FloodViolations(); n != 1 {
		t.Fatalf("violations = %d, want 1", n)
	}
	if _, err := c.SendMessage(ctx, &bot.SendMessageParams{ChatID: 43, Text: "other chat"}); err != nil {
		t.Fatalf("another chat is not limited: %v", err)
	}
	if got := len(tg.Requests("sendMessage")); got != 3 {
		t.Fatalf("%d sendMessage requests recorded, want 3", got)
	}
}

// TestEncodings calls the fake as other clients do: JSON, urlencoded and
// query-string parameters, and checks the envelopes by hand.
func TestEncodings(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(token, "hub_bot")
	tg.PushMessage(42, "ada", "hello")
	base := fake.URL() + "/bot" + token + "/"
	post := func(method, ct, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(base+method, ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, env
	}
	if code, env := post("sendMessage", "application/json", `{"chat_id":42,"text":"json","reply_parameters":{"message_id":1}}`); code != 200 || env["ok"] != true {
		t.Fatalf("json: %d %v", code, env)
	}
	if code, env := post("sendMessage", "application/x-www-form-urlencoded", url.Values{"chat_id": {"42"}, "text": {"form"}}.Encode()); code != 200 || env["ok"] != true {
		t.Fatalf("urlencoded: %d %v", code, env)
	}
	if code, env := post("sendMessage?chat_id=42&text=query", "", ""); code != 200 || env["ok"] != true {
		t.Fatalf("query: %d %v", code, env)
	}
	if msgs := tg.WaitSent(t, 42, 3); msgs[0].ReplyTo != 1 || msgs[2].Text != "query" {
		t.Fatalf("sent %+v", msgs)
	}
	if code, env := post("noSuchMethod", "", ""); code != 404 || env["ok"] != false || env["description"] != "Not Found" {
		t.Fatalf("unknown method: %d %v", code, env)
	}
	tg.FailNext("sendMessage", 429, 5)
	code, env := post("sendMessage?chat_id=42&text=x", "", "")
	params, _ := env["parameters"].(map[string]any)
	if code != 429 || env["error_code"] != 429.0 || env["description"] != "Too Many Requests: retry after 5" || params["retry_after"] != 5.0 {
		t.Fatalf("429 envelope: %d %v", code, env)
	}
	resp, err := http.Get(fake.URL() + "/bot1:wrong/getMe")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
}

func TestWebhookDelivery(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(token, "hub_bot")
	got := make(chan string, 10)
	fails := 1 // the hook refuses the first delivery: it is retried
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u models.Update
		if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
			t.Error(err)
		}
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		got <- r.Header.Get("X-Telegram-Bot-Api-Secret-Token") + " " + u.Message.Text
	}))
	t.Cleanup(hook.Close)
	c := client(t, fake)
	ctx := context.Background()

	tg.PushMessage(42, "ada", "queued before")
	if _, err := c.SetWebhook(ctx, &bot.SetWebhookParams{URL: hook.URL, SecretToken: "s3"}); err != nil {
		t.Fatal(err)
	}
	tg.PushMessage(42, "ada", "after")
	for _, want := range []string{"s3 queued before", "s3 after"} {
		if g := <-got; g != want {
			t.Fatalf("hook got %q, want %q", g, want)
		}
	}
	info, err := c.GetWebhookInfo(ctx)
	if err != nil || info.URL != hook.URL || !strings.Contains(info.LastErrorMessage, "500") {
		t.Fatalf("webhook info %+v, %v", info, err)
	}
	resp, err := http.Get(fake.URL() + "/bot" + token + "/getUpdates")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("getUpdates with a webhook set: %d, want 409", resp.StatusCode)
	}
	if _, err := c.DeleteWebhook(ctx, &bot.DeleteWebhookParams{}); err != nil {
		t.Fatal(err)
	}
	tg.WaitRequests(t, "deleteWebhook", 1)
}

func TestNewerPollEndsOlder(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(token, "hub_bot")
	older := make(chan int, 1)
	go func() {
		resp, err := http.Get(fake.URL() + "/bot" + token + "/getUpdates?timeout=10")
		if err != nil {
			older <- 0
			return
		}
		resp.Body.Close()
		older <- resp.StatusCode
	}()
	tg.WaitRequests(t, "getUpdates", 1)
	// A second poller, as from a second hub with the same token: the first
	// is told it lost.
	resp, err := http.Get(fake.URL() + "/bot" + token + "/getUpdates")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("newer poll: %d", resp.StatusCode)
	}
	if code := <-older; code != http.StatusConflict {
		t.Fatalf("older poll: %d, want 409", code)
	}
}

func TestMultipartFields(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(token, "hub_bot")
	tg.PushMessage(42, "ada", "hello")
	var body strings.Builder
	form := multipart.NewWriter(&body)
	form.WriteField("chat_id", "42")
	form.WriteField("text", "multipart")
	form.WriteField("text", "a second value is ignored")
	f, _ := form.CreateFormFile("photo", "cat.jpg")
	f.Write([]byte("not really a jpeg"))
	form.Close()
	resp, err := http.Post(fake.URL()+"/bot"+token+"/sendMessage?text=overridden", form.FormDataContentType(), strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("multipart: %d", resp.StatusCode)
	}
	r := tg.WaitRequests(t, "sendMessage", 1)[0]
	if r.Params["text"] != "multipart" || r.Params["photo"] != "attach://cat.jpg" || r.ChatID != 42 {
		t.Fatalf("params %v", r.Params)
	}
	// A call without parameters is an empty form.
	resp, err = http.Post(fake.URL()+"/bot"+token+"/getMe", "multipart/form-data; boundary=x", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("empty multipart: %d", resp.StatusCode)
	}
}

func TestKeepRequestsOff(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(token, "hub_bot")
	tg.PushMessage(42, "ada", "hello")
	b := client(t, fake, bot.WithSkipGetMe())
	ctx := context.Background()
	if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "kept"}); err != nil {
		t.Fatal(err)
	}
	tg.KeepRequests(false)
	for range 3 {
		if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "counted"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.GetMe(ctx); err != nil {
		t.Fatal(err)
	}
	if n, all, kept := tg.Calls("sendMessage"), tg.Calls(""), len(tg.Requests("")); n != 4 || all != 5 || kept != 1 {
		t.Fatalf("Calls = %d (all %d), kept %d; want 4, 5, 1", n, all, kept)
	}
	if sent := tg.Sent(42); len(sent) != 4 || sent[3].Text != "counted" {
		t.Fatalf("sent %+v", sent)
	}
}
