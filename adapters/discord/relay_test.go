package discord_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/discord"
	"github.com/hubhq/hub/adapters/discord/discordtest"
	"github.com/hubhq/hub/adapters/internal/chattest"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/store"
)

// relayHub runs bot "support" on the fake with a relay's layer and store.
// The fake has guild 100 with channel 200 and its thread 300.
func relayHub(t *testing.T, app core.Application) (*hub, *discordtest.Server, *chattest.Relay) {
	t.Helper()
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "support_bot")
	fake.AddThread("300", "200", "100")
	r := chattest.NewRelay(t, discord.Platform, "support")
	h := startHub(t, app, r.Store, discord.Options{
		Bots:    []discord.BotConfig{bot("support", tokenA, fake)},
		Runtime: r.Runtime(),
	})
	fake.WaitConnected(t, tokenA)
	return h, fake, r
}

func TestActionsFromTheLayerNeedNoOpenScope(t *testing.T) {
	h, fake, r := relayHub(t, chattest.Quiet())

	long := strings.Repeat("word ", 500) // 2500 characters: two messages
	r.Act(t, "discord:support:200", chat.Send{Text: "relayed", HubID: "h1"})
	r.Act(t, "discord:support:200", chat.Send{Text: long, HubID: "h2"})
	r.Act(t, "discord:support:200:300", chat.Send{Text: "in the thread", HubID: "h3"})
	sent := fake.WaitSent(t, "200", 3)
	inThread := fake.WaitSent(t, "300", 1)
	if sent[0].Content != "relayed" || sent[1].Content+sent[2].Content != long || inThread[0].Content != "in the thread" {
		t.Fatalf("sent %q and %q", texts(sent), texts(inThread))
	}
	chattest.Linked(t, r.Store, "h1", store.MessageCopy{Scope: "discord:support:200", ID: sent[0].ID})
	chattest.Linked(t, r.Store, "h2", store.MessageCopy{Scope: "discord:support:200", ID: sent[1].ID}) // the first part
	chattest.Linked(t, r.Store, "h3", store.MessageCopy{Scope: "discord:support:200:300", ID: inThread[0].ID})

	id := sent[0].ID
	r.Act(t, "discord:support:200", chat.React{MessageID: id, Emoji: "👍"})
	r.Act(t, "discord:support:200", chat.React{MessageID: id, Emoji: "🎉"}) // replaces 👍
	r.Act(t, "discord:support:200", chat.Edit{MessageID: id, Text: "relayed, edited"})
	r.Act(t, "discord:support:200", chat.Delete{MessageID: id})
	// In order: the reactions and the edit reached the message before the
	// delete did.
	chattest.Eventually(t, "reacted, edited, then deleted", func() bool {
		m, _ := fake.Message(id)
		return m.Deleted && m.Edited && m.Content == "relayed, edited" && reflect.DeepEqual(m.Reactions, []string{"🎉"})
	})
	if n := h.Runtime.Metrics.Opened.Load(); n != 0 {
		t.Errorf("%d scopes opened by actions from the layer, want none", n)
	}
}

func TestBadActionMessagesAreDropped(t *testing.T) {
	h, fake, r := relayHub(t, chattest.Quiet())
	before := len(fake.Requests(""))
	for _, m := range []layer.Message{
		{"type": "chat.explode", "scope": "discord:support:200"},
		{"type": "chat.send", "scope": "discord:other:200", "text": "another bot's"},
		{"type": "chat.send", "scope": "discord:support:../../guilds/100", "text": "not a channel id"},
		{"type": "chat.send", "scope": "discord:support:200:", "text": "no thread id"},
	} {
		r.Send(t, m)
	}
	r.Act(t, "discord:support:200", chat.Send{Text: "still here"})
	assertTexts(t, fake.WaitSent(t, "200", 1), "still here")
	chattest.AssertDropped(t, h.Logs.String(), "support", 4)
	if after := len(fake.Requests("")); after != before+1 {
		t.Errorf("%d requests for the actions, want only the good one's", after-before)
	}
}

func TestSendInScopeLinksItsHubID(t *testing.T) {
	_, fake, r := relayHub(t, chattest.Copier())
	m := fake.PushMessage("200", "100", "ada", "hello")
	sent := fake.WaitSent(t, "200", 1)[0]
	chattest.Linked(t, r.Store, "hub-"+m.ID, store.MessageCopy{Scope: "discord:support:200", ID: sent.ID})
}

func TestHeldSendIsLinkedOnceMade(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "support_bot")
	db := chattest.OpenStore(t)
	h := startHub(t, chattest.Copier(), db, discord.Options{
		Bots:   []discord.BotConfig{bot("support", tokenA, fake)},
		Outbox: db,
		Limits: discord.Limits{Channel: 100, Burst: 10, MaxWait: 50 * time.Millisecond},
	})
	fake.WaitConnected(t, tokenA)
	fake.FailNext(createRoute, http.StatusTooManyRequests, time.Second) // longer than MaxWait: the call is held
	m := fake.PushMessage("200", "100", "ada", "hello")
	chattest.Eventually(t, "the copy held", func() bool { return strings.Contains(h.Logs.String(), "call held in the outbox") })
	sent := fake.WaitSent(t, "200", 1)[0]
	chattest.Linked(t, db, "hub-"+m.ID, store.MessageCopy{Scope: "discord:support:200", ID: sent.ID})
	if strings.Contains(h.Logs.String(), "not linked") {
		t.Fatalf("logs:\n%s", h.Logs)
	}
}
