package outbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/store"
)

// sendAct is a test action: a message to a chat.
type sendAct struct {
	Chat string `json:"chat"`
	Text string `json:"text"`
}

// linkLog records the links a courier writes.
type linkLog struct {
	mu  sync.Mutex
	got []string
}

func (l *linkLog) MessageLink(_ context.Context, hubID string, c store.MessageCopy) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, hubID+" "+c.Scope+" "+c.ID)
	return nil
}

func (l *linkLog) links() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

var errFlood = errors.New("too many requests")

// heldCourier is a courier whose sends fail with errFlood, held for hold,
// while refuse is set; it returns the courier, its links and the number of
// calls made, and what stops it (else the end of the test does).
func heldCourier(t *testing.T, db *store.DB, refuse *atomic.Bool, hold time.Duration) (*Courier[sendAct], *linkLog, *atomic.Int64, func()) {
	t.Helper()
	links, made := &linkLog{}, &atomic.Int64{}
	ctx, cancel := context.WithCancel(context.Background())
	c := New(ctx, Config[sendAct]{
		Platform: "test", Bot: "support", Store: db, Links: links,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Send: func(context.Context, sendAct) (string, error) {
			if refuse.Load() {
				return "", errFlood
			}
			return strconv.FormatInt(100+made.Add(1), 10), nil
		},
		Queue:   func(act sendAct) string { return act.Chat },
		RetryAt: func(sendAct, error) (time.Time, bool) { return time.Now().Add(hold), true },
	})
	stop := func() { cancel(); c.Wait() }
	t.Cleanup(stop)
	return c, links, made, stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, 10*time.Second, what, cond)
}

func TestHeldSendIsLinkedWhenMade(t *testing.T) {
	db, _ := journalOf(t)
	var refuse atomic.Bool
	refuse.Store(true)
	c, links, made, _ := heldCourier(t, db, &refuse, 50*time.Millisecond)

	call := Call{Scope: "test:support:42", Kind: "chat.send", Dedupe: "u1:0", HubID: "hub-1"}
	id, err := c.Do(t.Context(), call, sendAct{Chat: "42", Text: "copy"})
	if err != nil || id != "" {
		t.Fatalf("held Do = %q, %v; want \"\" and no error", id, err)
	}
	if got := links.links(); len(got) != 0 {
		t.Fatalf("linked %q before the call was made", got)
	}
	refuse.Store(false)
	waitFor(t, "the held send linked", func() bool { return len(links.links()) > 0 })
	// The same event handled again makes and links nothing more.
	if id, err := c.Do(t.Context(), call, sendAct{Chat: "42", Text: "copy"}); err != nil || id != "101" {
		t.Fatalf("Do again = %q, %v; want the first call's 101", id, err)
	}
	if got := links.links(); len(got) != 1 || got[0] != "hub-1 test:support:42 101" || made.Load() != 1 {
		t.Fatalf("links %q after %d calls, want one: hub-1 test:support:42 101", got, made.Load())
	}
}

func TestSendLeftInTheOutboxIsLinkedAfterARestart(t *testing.T) {
	db, _ := journalOf(t)
	var refuse atomic.Bool
	refuse.Store(true)
	first, firstLinks, _, stopFirst := heldCourier(t, db, &refuse, time.Hour) // held past the restart
	if _, err := first.Do(t.Context(), Call{Scope: "test:support:42", Kind: "chat.send", HubID: "hub-1"}, sendAct{Chat: "42", Text: "copy"}); err != nil {
		t.Fatal(err)
	}
	plain := Call{Scope: "test:support:42", Kind: "chat.send"}
	if _, err := first.Do(t.Context(), plain, sendAct{Chat: "42", Text: "not a copy"}); err != nil {
		t.Fatal(err)
	}

	stopFirst()

	// The next start makes them at once: its store says they may go now.
	p, err := db.OutboxPending(t.Context(), "test", "support", 0)
	if err != nil || len(p) != 2 {
		t.Fatalf("pending %d, %v; want 2", len(p), err)
	}
	for _, e := range p {
		if err := db.OutboxRetry(t.Context(), e.ID, time.Now(), "shortened"); err != nil {
			t.Fatal(err)
		}
	}
	refuse.Store(false)
	second, links, made, _ := heldCourier(t, db, &refuse, time.Hour)
	if err := second.LoadPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both calls made", func() bool { return made.Load() == 2 })
	waitFor(t, "the copy linked", func() bool { return len(links.links()) > 0 })
	if got := links.links(); len(got) != 1 || got[0] != "hub-1 test:support:42 101" {
		t.Fatalf("links %q, want one: hub-1 test:support:42 101", got)
	}
	if got := firstLinks.links(); len(got) != 0 {
		t.Fatalf("the first courier linked %q", got)
	}
}

func TestActionsStoreTheirHubID(t *testing.T) {
	payload, err := encode(sendAct{Chat: "42", Text: "hi"}, "hub-1")
	if err != nil {
		t.Fatal(err)
	}
	act, hubID, err := decode[sendAct](payload)
	if err != nil || act != (sendAct{Chat: "42", Text: "hi"}) || hubID != "hub-1" {
		t.Fatalf("decode(%s) = %+v, %q, %v", payload, act, hubID, err)
	}
	// Calls stored before hub ids were: no hub id.
	if act, hubID, err := decode[sendAct]([]byte(`{"chat":"42","text":"hi"}`)); err != nil || act.Text != "hi" || hubID != "" {
		t.Fatalf("decode of an old payload = %+v, %q, %v", act, hubID, err)
	}
	if _, err := encode("not an object", "hub-1"); err == nil {
		t.Fatal("encode of a non-object with a hub id: no error")
	}
}

// A runner whose queue ran empty waits for the next queue instead of a new
// goroutine being started for it; it stops with the courier.
func TestRunnerSendsTheNextQueue(t *testing.T) {
	db, _ := journalOf(t)
	ctx, cancel := context.WithCancel(context.Background())
	var senders []string // the goroutine of each call
	c := New(ctx, Config[sendAct]{
		Platform: "test", Bot: "support", Store: db,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Send: func(context.Context, sendAct) (string, error) {
			buf := make([]byte, 64)
			g, _, _ := strings.Cut(string(buf[:runtime.Stack(buf, false)]), " [")
			senders = append(senders, g) // calls are waited for one by one
			return "1", nil
		},
		Queue:   func(act sendAct) string { return act.Chat },
		RetryAt: func(sendAct, error) (time.Time, bool) { return time.Time{}, false },
	})
	for _, chat := range []string{"1", "2", "3"} {
		if _, err := c.Do(t.Context(), Call{Scope: "s" + chat, Kind: "chat.send"}, sendAct{Chat: chat, Text: "hi"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the runner to wait", func() bool { return c.waiting.Load() == 1 })
	}
	if senders[1] != senders[0] || senders[2] != senders[0] {
		t.Errorf("calls to three chats made by %q: want one runner", senders)
	}
	cancel()
	c.Wait() // returns: the waiting runner stopped
	if n := c.waiting.Load(); n != 0 {
		t.Errorf("%d runners still waiting", n)
	}
}
