package telegram_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/internal/chattest"
	"github.com/hubhq/hub/adapters/telegram"
	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/store"
)

// relayHub runs bot "support" on the fake with a relay's layer and store
// (the store also as the outbox, if durable), and returns what it runs on.
func relayHub(t *testing.T, app core.Application, durable bool, opts telegram.Options) (*hub, *telegramtest.Bot, *chattest.Relay) {
	t.Helper()
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "support_bot")
	r := chattest.NewRelay(t, telegram.Platform, "support")
	opts.Bots = []telegram.BotConfig{bot("support", tokenA, fake)}
	opts.Runtime = r.Runtime()
	if durable {
		opts.Outbox = r.Store
	}
	return startHub(t, app, r.Store, opts), tg, r
}

// outboxes runs a test with and without the store as the outbox: actions
// from the layer take either path, as a scope's do.
func outboxes(t *testing.T, test func(t *testing.T, durable bool)) {
	for _, durable := range []bool{false, true} {
		t.Run("outbox="+strconv.FormatBool(durable), func(t *testing.T) { test(t, durable) })
	}
}

func TestActionsFromTheLayerNeedNoOpenScope(t *testing.T) {
	outboxes(t, func(t *testing.T, durable bool) {
		h, tg, r := relayHub(t, chattest.Quiet(), durable, telegram.Options{IdleTimeout: 50 * time.Millisecond})
		// The fake only lets the bot write where it has heard from: a chat
		// and a group speak once, and their scopes go idle and close.
		tg.PushMessage(42, "ada", "hello")
		tg.PushMessage(-100, "bob", "hello")
		metrics := h.Runtime.Metrics
		chattest.Eventually(t, "both scopes closed", func() bool { return metrics.Opened.Load() == 2 && metrics.Live() == 0 })

		r.Act(t, "telegram:support:42", chat.Send{Text: "relayed", HubID: "h1"})
		r.Act(t, "telegram:support:-100:7", chat.Send{Text: "in topic 7", HubID: "h2"})
		sent := tg.WaitSent(t, 42, 1)[0]
		inTopic := tg.WaitSent(t, -100, 1)[0]
		if sent.Text != "relayed" || inTopic.Text != "in topic 7" || inTopic.ThreadID != 7 {
			t.Fatalf("sent %+v and %+v", sent, inTopic)
		}
		for hubID, want := range map[string]store.MessageCopy{
			"h1": {Scope: "telegram:support:42", ID: strconv.Itoa(sent.ID)},
			"h2": {Scope: "telegram:support:-100:7", ID: strconv.Itoa(inTopic.ID)},
		} {
			chattest.Linked(t, r.Store, hubID, want)
		}

		id := strconv.Itoa(sent.ID)
		r.Act(t, "telegram:support:42", chat.Edit{MessageID: id, Text: "relayed, edited"})
		r.Act(t, "telegram:support:42", chat.Delete{MessageID: id})
		// In order: the edit reached the message before the delete did.
		chattest.Eventually(t, "edited, then deleted", func() bool {
			m, _ := tg.Message(42, sent.ID)
			return m.Deleted && m.Edited && m.Text == "relayed, edited"
		})
		if n := metrics.Opened.Load(); n != 2 {
			t.Errorf("%d scopes opened, want 2: actions from the layer opened some", n)
		}
	})
}

func TestBadActionMessagesAreDropped(t *testing.T) {
	h, tg, r := relayHub(t, chattest.Quiet(), false, telegram.Options{})
	tg.PushMessage(42, "ada", "hello")
	for _, m := range []layer.Message{
		{"type": "chat.explode", "scope": "telegram:support:42"},
		{"type": "chat.send", "scope": "telegram:other:42", "text": "another bot's"},
		{"type": "chat.send", "scope": "telegram:support:ada", "text": "bad chat"},
		{"type": "chat.send", "scope": "telegram:support:42:x", "text": "bad topic"},
	} {
		r.Send(t, m)
	}
	r.Act(t, "telegram:support:42", chat.Send{Text: "still here"})
	if got := tg.WaitSent(t, 42, 1); got[0].Text != "still here" || len(got) != 1 {
		t.Fatalf("sent %+v, want only the good message", got)
	}
	chattest.AssertDropped(t, h.Logs.String(), "support", 4)
}

func TestSendInScopeLinksItsHubID(t *testing.T) {
	outboxes(t, func(t *testing.T, durable bool) {
		_, tg, r := relayHub(t, chattest.Copier(), durable, telegram.Options{})
		m := tg.PushMessage(42, "ada", "hello")
		sent := tg.WaitSent(t, 42, 1)[0]
		chattest.Eventually(t, "the copy linked", func() bool {
			hubID, ok, err := r.Store.MessageHubID(context.Background(), store.MessageCopy{Scope: "telegram:support:42", ID: strconv.Itoa(sent.ID)})
			return err == nil && ok && hubID == "hub-"+strconv.Itoa(m.ID)
		})
	})
}

func TestHeldSendIsLinkedOnceMade(t *testing.T) {
	h, tg, r := relayHub(t, chattest.Copier(), true, telegram.Options{
		Limits: telegram.Limits{Chat: 100, Burst: 10, MaxWait: 500 * time.Millisecond},
	})
	tg.FailNext("sendMessage", http.StatusTooManyRequests, 2) // longer than MaxWait: the call is held
	m := tg.PushMessage(42, "ada", "hello")
	chattest.Eventually(t, "the copy held", func() bool { return strings.Contains(h.Logs.String(), "call held in the outbox") })
	sent := tg.WaitSent(t, 42, 1)[0]
	copyOf := store.MessageCopy{Scope: "telegram:support:42", ID: strconv.Itoa(sent.ID)}
	chattest.Eventually(t, "the copy linked", func() bool {
		hubID, ok, err := r.Store.MessageHubID(context.Background(), copyOf)
		return err == nil && ok && hubID == "hub-"+strconv.Itoa(m.ID)
	})
	if copies, err := r.Store.MessageCopies(context.Background(), "hub-"+strconv.Itoa(m.ID)); err != nil || len(copies) != 1 {
		t.Fatalf("copies %+v, %v; want the one sent", copies, err)
	}
	if strings.Contains(h.Logs.String(), "not linked") {
		t.Fatalf("logs:\n%s", h.Logs)
	}
}
