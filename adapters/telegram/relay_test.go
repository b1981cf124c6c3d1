package telegram_test

import (
	"context"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/telegram"
	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/store"
)

// quiet is an application that takes its events and does nothing.
var quiet = core.AppFunc(func(ctx context.Context, _ *core.Scope, inbox core.Inbox, _ core.SendFunc) error {
	for {
		ev, err := inbox.Next(ctx)
		if err != nil {
			return err
		}
		if _, ok := ev.(chat.Disconnect); ok {
			return nil
		}
	}
})

// relayHub runs bot "support" on the fake with a memory layer and a store
// (also as the outbox, if durable), and returns what it runs on.
func relayHub(t *testing.T, app core.Application, durable bool, opts telegram.Options) (*hub, *telegramtest.Bot, *layer.Memory, *store.DB) {
	t.Helper()
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "support_bot")
	db, mem := openStore(t), layer.NewMemory(layer.Options{})
	opts.Bots = []telegram.BotConfig{bot("support", tokenA, fake)}
	opts.Runtime = &core.Runtime{Layer: mem}
	if durable {
		opts.Outbox = db
	}
	return startHub(t, app, db, opts), tg, mem, db
}

// act sends an action message to bot "support"'s action channel.
func act(t *testing.T, l layer.Layer, scope string, action core.Event) {
	t.Helper()
	m, err := chat.ActionMessage(scope, action)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Send(context.Background(), chat.ActionChannel(telegram.Platform, "support"), m); err != nil {
		t.Fatal(err)
	}
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
		h, tg, mem, db := relayHub(t, quiet, durable, telegram.Options{IdleTimeout: 50 * time.Millisecond})
		// The fake only lets the bot write where it has heard from: a chat
		// and a group speak once, and their scopes go idle and close.
		tg.PushMessage(42, "ada", "hello")
		tg.PushMessage(-100, "bob", "hello")
		metrics := h.runtime.Metrics
		eventually(t, "both scopes closed", func() bool { return metrics.Opened.Load() == 2 && metrics.Live() == 0 })

		act(t, mem, "telegram:support:42", chat.Send{Text: "relayed", HubID: "h1"})
		act(t, mem, "telegram:support:-100:7", chat.Send{Text: "in topic 7", HubID: "h2"})
		sent := tg.WaitSent(t, 42, 1)[0]
		inTopic := tg.WaitSent(t, -100, 1)[0]
		if sent.Text != "relayed" || inTopic.Text != "in topic 7" || inTopic.ThreadID != 7 {
			t.Fatalf("sent %+v and %+v", sent, inTopic)
		}
		for hubID, want := range map[string]store.MessageCopy{
			"h1": {Scope: "telegram:support:42", ID: strconv.Itoa(sent.ID)},
			"h2": {Scope: "telegram:support:-100:7", ID: strconv.Itoa(inTopic.ID)},
		} {
			eventually(t, hubID+" linked", func() bool {
				copies, err := db.MessageCopies(context.Background(), hubID)
				return err == nil && reflect.DeepEqual(copies, []store.MessageCopy{want})
			})
		}

		id := strconv.Itoa(sent.ID)
		act(t, mem, "telegram:support:42", chat.Edit{MessageID: id, Text: "relayed, edited"})
		act(t, mem, "telegram:support:42", chat.Delete{MessageID: id})
		// In order: the edit reached the message before the delete did.
		eventually(t, "edited, then deleted", func() bool {
			m, _ := tg.Message(42, sent.ID)
			return m.Deleted && m.Edited && m.Text == "relayed, edited"
		})
		if n := metrics.Opened.Load(); n != 2 {
			t.Errorf("%d scopes opened, want 2: actions from the layer opened some", n)
		}
	})
}

func TestBadActionMessagesAreDropped(t *testing.T) {
	h, tg, mem, _ := relayHub(t, quiet, false, telegram.Options{})
	tg.PushMessage(42, "ada", "hello")
	channel := chat.ActionChannel(telegram.Platform, "support")
	for _, m := range []layer.Message{
		{"type": "chat.explode", "scope": "telegram:support:42"},
		{"type": "chat.send", "scope": "telegram:other:42", "text": "another bot's"},
		{"type": "chat.send", "scope": "telegram:support:ada", "text": "bad chat"},
		{"type": "chat.send", "scope": "telegram:support:42:x", "text": "bad topic"},
	} {
		if err := mem.Send(context.Background(), channel, m); err != nil {
			t.Fatal(err)
		}
	}
	act(t, mem, "telegram:support:42", chat.Send{Text: "still here"})
	if got := tg.WaitSent(t, 42, 1); got[0].Text != "still here" || len(got) != 1 {
		t.Fatalf("sent %+v, want only the good message", got)
	}
	var drops []string
	for line := range strings.SplitSeq(h.logs.String(), "\n") {
		if strings.Contains(line, "action message dropped") {
			drops = append(drops, line)
			if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "bot=support") {
				t.Errorf("drop not a warning naming the bot: %s", line)
			}
		}
	}
	if len(drops) != 4 {
		t.Errorf("%d drops logged, want 4:\n%s", len(drops), strings.Join(drops, "\n"))
	}
}

func TestSendInScopeLinksItsHubID(t *testing.T) {
	outboxes(t, func(t *testing.T, durable bool) {
		copier := consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
			return c.Do(chat.Send{Text: "copy of " + m.Text, HubID: "hub-" + m.ID})
		})
		_, tg, _, db := relayHub(t, consumers.NewChat(func() consumers.ChatHandler { return copier }), durable, telegram.Options{})
		m := tg.PushMessage(42, "ada", "hello")
		sent := tg.WaitSent(t, 42, 1)[0]
		eventually(t, "the copy linked", func() bool {
			hubID, ok, err := db.MessageHubID(context.Background(), store.MessageCopy{Scope: "telegram:support:42", ID: strconv.Itoa(sent.ID)})
			return err == nil && ok && hubID == "hub-"+strconv.Itoa(m.ID)
		})
	})
}

func TestHeldSendIsLinkedOnceMade(t *testing.T) {
	copier := consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
		return c.Do(chat.Send{Text: "copy of " + m.Text, HubID: "hub-" + m.ID})
	})
	h, tg, _, db := relayHub(t, consumers.NewChat(func() consumers.ChatHandler { return copier }), true, telegram.Options{
		Limits: telegram.Limits{Chat: 100, Burst: 10, MaxWait: 500 * time.Millisecond},
	})
	tg.FailNext("sendMessage", http.StatusTooManyRequests, 2) // longer than MaxWait: the call is held
	m := tg.PushMessage(42, "ada", "hello")
	eventually(t, "the copy held", func() bool { return strings.Contains(h.logs.String(), "call held in the outbox") })
	sent := tg.WaitSent(t, 42, 1)[0]
	copyOf := store.MessageCopy{Scope: "telegram:support:42", ID: strconv.Itoa(sent.ID)}
	eventually(t, "the copy linked", func() bool {
		hubID, ok, err := db.MessageHubID(context.Background(), copyOf)
		return err == nil && ok && hubID == "hub-"+strconv.Itoa(m.ID)
	})
	if copies, err := db.MessageCopies(context.Background(), "hub-"+strconv.Itoa(m.ID)); err != nil || len(copies) != 1 {
		t.Fatalf("copies %+v, %v; want the one sent", copies, err)
	}
	if strings.Contains(h.logs.String(), "not linked") {
		t.Fatalf("logs:\n%s", h.logs)
	}
}
