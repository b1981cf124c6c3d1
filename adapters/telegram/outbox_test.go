package telegram_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/adapters/internal/chattest"
	"github.com/hubhq/hub/adapters/telegram"
	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins/echo"
	"github.com/hubhq/hub/store"
)

func echoApp() core.Application { return core.Named("echo", echo.New()) }

func pending(t *testing.T, db *store.DB, bot string) []store.OutboxEntry {
	t.Helper()
	p, err := db.OutboxPending(t.Context(), telegram.Platform, bot, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOutboxCallsAreRecordedAndDone(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	db := chattest.OpenStore(t)
	startHub(t, echoApp(), db, telegram.Options{Bots: []telegram.BotConfig{bot("echo", tokenA, fake)}, Outbox: db})

	tg.FailNext("sendMessage", http.StatusTooManyRequests, 1) // retried from the outbox's queue
	hello := tg.PushMessage(42, "ada", "hello")
	got := tg.WaitSent(t, 42, 2)
	assertTexts(t, got, "[Welcome Anonymous!]", "You said: hello")
	if got[1].ReplyTo != hello.ID {
		t.Fatalf("reply to %d, want %d", got[1].ReplyTo, hello.ID)
	}
	chattest.Eventually(t, "the outbox is empty", func() bool { return len(pending(t, db, "echo")) == 0 })
	if n := tg.FloodViolations(); n != 0 {
		t.Fatalf("%d requests during retry_after", n)
	}
	if v, _, _ := db.Checkpoint(t.Context(), "telegram:echo:offset"); v == "" {
		t.Fatal("no offset checkpoint")
	}
}

// outboxEntry is a call as the adapter writes it.
func outboxEntry(t *testing.T, chat int64, text, dedupe string) store.OutboxEntry {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"kind": "chat.send", "chat": chat, "text": text})
	if err != nil {
		t.Fatal(err)
	}
	return store.OutboxEntry{Platform: telegram.Platform, Bot: "echo", Scope: fmt.Sprint("telegram:echo:", chat), Kind: "chat.send", Payload: payload, Dedupe: dedupe}
}

func TestCallsLeftInTheOutboxGoFirstInOrder(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	handled := tg.PushUpdate(wrap(telegramtest.NewMessage(42, "ada", "before the crash"))) // the chat exists
	db := chattest.OpenStore(t)
	// What a crash left: three calls written, none made.
	for _, text := range []string{"one", "two", "three"} {
		if _, err := db.OutboxAdd(t.Context(), outboxEntry(t, 42, text, "")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetCheckpoint(t.Context(), "telegram:echo:offset", itoa(handled+1)); err != nil {
		t.Fatal(err)
	}
	startHub(t, echoApp(), db, telegram.Options{Bots: []telegram.BotConfig{bot("echo", tokenA, fake)}, Outbox: db})
	tg.WaitSent(t, 42, 3)
	tg.PushMessage(42, "ada", "after")
	assertTexts(t, tg.WaitSent(t, 42, 5), "one", "two", "three", "[Welcome Anonymous!]", "You said: after")
	chattest.Eventually(t, "the outbox is empty", func() bool { return len(pending(t, db, "echo")) == 0 })
}

func TestJournaledUpdateIsHandledOnceAcrossARestart(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	db := chattest.OpenStore(t)
	// A crash left two updates journaled (and confirmed to Telegram): the
	// first was handled and its reply made, the second not yet.
	m1, m2 := telegramtest.NewMessage(42, "ada", "handled"), telegramtest.NewMessage(42, "ada", "not yet")
	id1, id2 := tg.PushUpdate(&models.Update{Message: m1}), tg.PushUpdate(&models.Update{Message: m2})
	var journal []store.Inbound
	for _, u := range []*models.Update{{ID: id1, Message: m1}, {ID: id2, Message: m2}} {
		raw, _ := json.Marshal(u)
		journal = append(journal, store.Inbound{ID: u.ID, Payload: raw})
	}
	if err := db.InboundAdd(t.Context(), telegram.Platform, "echo", journal, "telegram:echo:offset", itoa(id2+1)); err != nil {
		t.Fatal(err)
	}
	first, err := db.OutboxAdd(t.Context(), outboxEntry(t, 42, "You said: handled", fmt.Sprint(tg.ID, ":", id1, ":0")))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.OutboxDone(t.Context(), first, "77"); err != nil {
		t.Fatal(err)
	}

	startHub(t, echoApp(), db, telegram.Options{Bots: []telegram.BotConfig{bot("echo", tokenA, fake)}, Outbox: db})
	tg.PushMessage(42, "ada", "new")
	// Both journaled updates are handled again, but the first one's reply
	// is not made twice.
	assertTexts(t, tg.WaitSent(t, 42, 3), "[Welcome Anonymous!]", "You said: not yet", "You said: new")
	// The journal keeps at most the update being handled.
	chattest.Eventually(t, "the replayed updates leave the journal", func() bool {
		p, _ := db.InboundPending(t.Context(), telegram.Platform, "echo")
		return len(p) <= 1 && (len(p) == 0 || p[0].ID > id2)
	})
	if n := len(tg.Requests("sendMessage")); n != 3 {
		t.Fatalf("%d sendMessage calls, want 3", n)
	}
}

func TestHeldChatKeepsItsOrderAndFailsFast(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	db := chattest.OpenStore(t)
	startHub(t, echoApp(), db, telegram.Options{
		Bots:   []telegram.BotConfig{bot("echo", tokenA, fake)},
		Outbox: db,
		Limits: telegram.Limits{Chat: 100, Burst: 10, MaxWait: time.Second},
	})
	tg.FailNext("sendMessage", http.StatusTooManyRequests, 2) // longer than MaxWait
	tg.PushMessage(42, "ada", "one")
	tg.PushMessage(42, "ada", "two")
	// Once the hold ends, everything goes, in order, exactly once.
	got := tg.WaitSent(t, 42, 3)
	assertTexts(t, got, "[Welcome Anonymous!]", "You said: one", "You said: two")
	if n := tg.FloodViolations(); n != 0 {
		t.Fatalf("%d requests during retry_after", n)
	}
	chattest.Eventually(t, "the outbox is empty", func() bool { return len(pending(t, db, "echo")) == 0 })
}

func TestCleanRestartWithOutboxRepeatsNothing(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	db := chattest.OpenStore(t)
	opts := telegram.Options{Bots: []telegram.BotConfig{bot("echo", tokenA, fake)}, Outbox: db}

	first := startHub(t, echoApp(), db, opts)
	tg.PushMessage(42, "ada", "/name Ada")
	tg.PushMessage(42, "ada", "one")
	tg.WaitSent(t, 42, 3)
	first.Shutdown(t)
	if err := db.Flush(t.Context()); err != nil { // the journal's handled marks are fire-and-forget
		t.Fatal(err)
	}
	if p, _ := db.InboundPending(t.Context(), telegram.Platform, "echo"); len(p) != 0 {
		t.Fatalf("a clean shutdown left %d updates in the journal", len(p))
	}
	if p := pending(t, db, "echo"); len(p) != 0 {
		t.Fatalf("a clean shutdown left %d calls in the outbox", len(p))
	}

	tg.PushMessage(42, "ada", "while down")
	startHub(t, echoApp(), db, opts)
	assertTexts(t, tg.WaitSent(t, 42, 5), "[Welcome Anonymous!]", "[set your username to Ada]", "Ada: You said: one",
		"[Welcome Ada!]", "Ada: You said: while down")
	if n := len(tg.Requests("sendMessage")); n != 5 {
		t.Fatalf("%d sendMessage calls, want 5", n)
	}
}

func TestOutboxCallsAreJournaled(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	startHub(t, echoApp(), db, telegram.Options{Bots: []telegram.BotConfig{bot("echo", tokenA, fake)}, Outbox: db})

	tg.FailNext("sendMessage", http.StatusTooManyRequests, 1) // the greeting is refused once
	tg.PushMessage(42, "ada", "hello")
	sent := tg.WaitSent(t, 42, 2)
	chattest.Eventually(t, "the outbox is empty", func() bool { return len(pending(t, db, "echo")) == 0 })

	// Each attempt: W once written, then E (refused) or R with the new
	// message's id. The greeting was written first.
	data, err := os.ReadFile(store.JournalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	byEntry := map[int64][]string{}
	var ids []int64
	for line := range strings.Lines(string(data)) {
		var id int64
		if _, err := fmt.Sscanf(line[2:], "%d", &id); err != nil {
			t.Fatalf("journal line %q: %v", line, err)
		}
		if byEntry[id] == nil {
			ids = append(ids, id)
		}
		if strings.HasPrefix(line, "I ") { // its connection and count are the store's to check
			line = fmt.Sprint("I ", id)
		}
		byEntry[id] = append(byEntry[id], strings.TrimSuffix(line, "\n"))
	}
	slices.Sort(ids)
	if len(ids) != 2 {
		t.Fatalf("journal %q: want two entries", data)
	}
	// Each last write has its I line first where a witness runs (Linux).
	written := func(id int64) []string {
		if runtime.GOOS == "linux" {
			return []string{fmt.Sprint("I ", id), fmt.Sprint("W ", id)}
		}
		return []string{fmt.Sprint("W ", id)}
	}
	want := [][]string{
		slices.Concat(written(ids[0]), []string{fmt.Sprint("E ", ids[0])}, written(ids[0]), []string{fmt.Sprintf("R %d \"%d\"", ids[0], sent[0].ID)}),
		slices.Concat(written(ids[1]), []string{fmt.Sprintf("R %d \"%d\"", ids[1], sent[1].ID)}),
	}
	for i, id := range ids {
		if !slices.Equal(byEntry[id], want[i]) {
			t.Errorf("entry %d: journal %q, want %q", id, byEntry[id], want[i])
		}
	}
}
