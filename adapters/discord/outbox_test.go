package discord_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/discord"
	"github.com/hubhq/hub/adapters/discord/discordtest"
	"github.com/hubhq/hub/adapters/internal/chattest"
	"github.com/hubhq/hub/store"
)

const createRoute = "POST /channels/{id}/messages"

func pending(t *testing.T, db *store.DB) []store.OutboxEntry {
	t.Helper()
	p, err := db.OutboxPending(t.Context(), discord.Platform, "echo", 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// nonces reads the nonce of each message create the fake received in a
// channel, and fails the test if one came without enforce_nonce.
func nonces(t *testing.T, fake *discordtest.Server, channel string) []string {
	t.Helper()
	var out []string
	for _, r := range fake.Requests(createRoute) {
		if r.ChannelID != channel {
			continue
		}
		var body struct {
			Nonce        string `json:"nonce"`
			EnforceNonce bool   `json:"enforce_nonce"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil || body.Nonce == "" || !body.EnforceNonce {
			t.Fatalf("a message create without an enforced nonce: %s (%v)", r.Body, err)
		}
		out = append(out, body.Nonce)
	}
	return out
}

func TestOutboxCallsSurviveARestart(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	db := chattest.OpenStore(t)
	opts := discord.Options{
		Bots:   []discord.BotConfig{bot("echo", tokenA, fake)},
		Outbox: db,
		Limits: discord.Limits{Channel: 100, Burst: 10, MaxWait: 50 * time.Millisecond},
	}
	first := startHub(t, echoApp(), db, opts)
	// Discord holds the channel longer than the hub waits: the greeting and
	// the reply stay in the outbox, and the hub stops (which takes a
	// second: discordgo waits that long for the gateway to close).
	fake.FailNext(createRoute, http.StatusTooManyRequests, 3*time.Second)
	fake.PushMessage("chan-1", "guild-1", "ada", "hello")
	chattest.Eventually(t, "both calls are held", func() bool { return len(pending(t, db)) == 2 })
	first.Shutdown(t)
	if sent := fake.Sent("chan-1"); len(sent) != 0 {
		t.Fatalf("sent while held: %q", texts(sent))
	}

	// The next start makes them, in order, once the retry_after ends; other
	// channels meanwhile go on.
	startHub(t, echoApp(), db, opts)
	fake.WaitCount(t, "identifies", fake.Identifies, 2) // a new session: not one the push could go to
	fake.WaitConnected(t, tokenA)
	fake.PushMessage("chan-2", "guild-1", "ada", "meanwhile")
	assertTexts(t, fake.WaitSent(t, "chan-2", 2), "[Welcome Anonymous!]", "You said: meanwhile")
	assertTexts(t, fake.WaitSent(t, "chan-1", 2), "[Welcome Anonymous!]", "You said: hello")
	chattest.Eventually(t, "the outbox is empty", func() bool { return len(pending(t, db)) == 0 })
	if n := fake.FloodViolations(); n != 0 {
		t.Errorf("%d requests during retry_after", n)
	}
	// The greeting refused before the restart went again with its nonce.
	if n := nonces(t, fake, "chan-1"); len(n) != 3 || n[0] != n[1] || n[1] == n[2] {
		t.Errorf("nonces %q: want the refused create's repeated after the restart", n)
	}
}

func TestRedeliveredEventIsAnsweredOnce(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	db := chattest.OpenStore(t)
	startHub(t, echoApp(), db, discord.Options{Bots: []discord.BotConfig{bot("echo", tokenA, fake)}, Outbox: db})

	hello := fake.PushMessage("chan-1", "guild-1", "ada", "hello")
	fake.WaitSent(t, "chan-1", 2)
	fake.PushDispatch("MESSAGE_CREATE", hello) // Discord delivers it again
	fake.PushMessage("chan-1", "guild-1", "ada", "after")
	assertTexts(t, fake.WaitSent(t, "chan-1", 3), "[Welcome Anonymous!]", "You said: hello", "You said: after")
	if n := len(fake.Requests(createRoute)); n != 3 {
		t.Fatalf("%d message creates, want 3", n)
	}
}

func TestCreateRetriedInTransitKeepsItsNonce(t *testing.T) {
	fake := discordtest.New(t)
	fake.AddBot(tokenA, "echo_bot")
	db := chattest.OpenStore(t)
	startHub(t, echoApp(), db, discord.Options{Bots: []discord.BotConfig{bot("echo", tokenA, fake)}, Outbox: db})

	fake.FailNext(createRoute, http.StatusInternalServerError, 0) // retried after a backoff
	fake.PushMessage("chan-1", "guild-1", "ada", "hello")
	assertTexts(t, fake.WaitSent(t, "chan-1", 2), "[Welcome Anonymous!]", "You said: hello")
	// Had Discord made the first attempt, the second would have been
	// answered with its message: same nonce, enforced.
	if n := nonces(t, fake, "chan-1"); len(n) != 3 || n[0] != n[1] || n[1] == n[2] {
		t.Fatalf("nonces %q: want the failed create's repeated once", n)
	}
}
