package discord_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/discord"
	"github.com/hubhq/hub/adapters/discord/discordtest"
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

// relayHub runs bot "support" on the fake with a memory layer and a store.
// The fake has guild 100 with channel 200 and its thread 300.
func relayHub(t *testing.T, app core.Application) (*hub, *discordtest.Server, *layer.Memory, *store.DB) {
	t.Helper()
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "support_bot")
	fake.AddThread("300", "200", "100")
	db, mem := openStore(t), layer.NewMemory(layer.Options{})
	h := startHub(t, app, db, discord.Options{
		Bots:    []discord.BotConfig{bot("support", tokenA, fake)},
		Runtime: &core.Runtime{Layer: mem},
	})
	fake.WaitConnected(t, tokenA)
	return h, fake, mem, db
}

// act sends an action message to bot "support"'s action channel.
func act(t *testing.T, l layer.Layer, scope string, action core.Event) {
	t.Helper()
	m, err := chat.ActionMessage(scope, action)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Send(context.Background(), chat.ActionChannel(discord.Platform, "support"), m); err != nil {
		t.Fatal(err)
	}
}

func linked(t *testing.T, db *store.DB, hubID string, want store.MessageCopy) {
	t.Helper()
	eventually(t, hubID+" linked", func() bool {
		copies, err := db.MessageCopies(context.Background(), hubID)
		return err == nil && reflect.DeepEqual(copies, []store.MessageCopy{want})
	})
}

func TestActionsFromTheLayerNeedNoOpenScope(t *testing.T) {
	h, fake, mem, db := relayHub(t, quiet)

	long := strings.Repeat("word ", 500) // 2500 characters: two messages
	act(t, mem, "discord:support:200", chat.Send{Text: "relayed", HubID: "h1"})
	act(t, mem, "discord:support:200", chat.Send{Text: long, HubID: "h2"})
	act(t, mem, "discord:support:200:300", chat.Send{Text: "in the thread", HubID: "h3"})
	sent := fake.WaitSent(t, "200", 3)
	inThread := fake.WaitSent(t, "300", 1)
	if sent[0].Content != "relayed" || sent[1].Content+sent[2].Content != long || inThread[0].Content != "in the thread" {
		t.Fatalf("sent %q and %q", texts(sent), texts(inThread))
	}
	linked(t, db, "h1", store.MessageCopy{Scope: "discord:support:200", ID: sent[0].ID})
	linked(t, db, "h2", store.MessageCopy{Scope: "discord:support:200", ID: sent[1].ID}) // the first part
	linked(t, db, "h3", store.MessageCopy{Scope: "discord:support:200:300", ID: inThread[0].ID})

	id := sent[0].ID
	act(t, mem, "discord:support:200", chat.React{MessageID: id, Emoji: "👍"})
	act(t, mem, "discord:support:200", chat.React{MessageID: id, Emoji: "🎉"}) // replaces 👍
	act(t, mem, "discord:support:200", chat.Edit{MessageID: id, Text: "relayed, edited"})
	act(t, mem, "discord:support:200", chat.Delete{MessageID: id})
	// In order: the reactions and the edit reached the message before the
	// delete did.
	eventually(t, "reacted, edited, then deleted", func() bool {
		m, _ := fake.Message(id)
		return m.Deleted && m.Edited && m.Content == "relayed, edited" && reflect.DeepEqual(m.Reactions, []string{"🎉"})
	})
	if n := h.runtime.Metrics.Opened.Load(); n != 0 {
		t.Errorf("%d scopes opened by actions from the layer, want none", n)
	}
}

func TestBadActionMessagesAreDropped(t *testing.T) {
	h, fake, mem, _ := relayHub(t, quiet)
	channel := chat.ActionChannel(discord.Platform, "support")
	before := len(fake.Requests(""))
	for _, m := range []layer.Message{
		{"type": "chat.explode", "scope": "discord:support:200"},
		{"type": "chat.send", "scope": "discord:other:200", "text": "another bot's"},
		{"type": "chat.send", "scope": "discord:support:../../guilds/100", "text": "not a channel id"},
		{"type": "chat.send", "scope": "discord:support:200:", "text": "no thread id"},
	} {
		if err := mem.Send(context.Background(), channel, m); err != nil {
			t.Fatal(err)
		}
	}
	act(t, mem, "discord:support:200", chat.Send{Text: "still here"})
	assertTexts(t, fake.WaitSent(t, "200", 1), "still here")
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
	if after := len(fake.Requests("")); after != before+1 {
		t.Errorf("%d requests for the actions, want only the good one's", after-before)
	}
}

func TestSendInScopeLinksItsHubID(t *testing.T) {
	copier := consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
		return c.Do(chat.Send{Text: "copy of " + m.Text, HubID: "hub-" + m.ID})
	})
	_, fake, _, db := relayHub(t, consumers.NewChat(func() consumers.ChatHandler { return copier }))
	m := fake.PushMessage("200", "100", "ada", "hello")
	sent := fake.WaitSent(t, "200", 1)[0]
	linked(t, db, "hub-"+m.ID, store.MessageCopy{Scope: "discord:support:200", ID: sent.ID})
}

func TestHeldSendIsLinkedOnceMade(t *testing.T) {
	copier := consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
		return c.Do(chat.Send{Text: "copy of " + m.Text, HubID: "hub-" + m.ID})
	})
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "support_bot")
	db := openStore(t)
	h := startHub(t, consumers.NewChat(func() consumers.ChatHandler { return copier }), db, discord.Options{
		Bots:   []discord.BotConfig{bot("support", tokenA, fake)},
		Outbox: db,
		Limits: discord.Limits{Channel: 100, Burst: 10, MaxWait: 50 * time.Millisecond},
	})
	fake.WaitConnected(t, tokenA)
	fake.FailNext(createRoute, http.StatusTooManyRequests, time.Second) // longer than MaxWait: the call is held
	m := fake.PushMessage("200", "100", "ada", "hello")
	eventually(t, "the copy held", func() bool { return strings.Contains(h.logs.String(), "call held in the outbox") })
	sent := fake.WaitSent(t, "200", 1)[0]
	linked(t, db, "hub-"+m.ID, store.MessageCopy{Scope: "discord:support:200", ID: sent.ID})
	if strings.Contains(h.logs.String(), "not linked") {
		t.Fatalf("logs:\n%s", h.logs)
	}
}
