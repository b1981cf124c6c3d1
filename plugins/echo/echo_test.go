package echo_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/plugins/echo"
	"github.com/hubhq/hub/store"
)

// conversation runs one echo instance over a real store and returns the
// texts it sends.
func conversation(t *testing.T, db *store.DB, say ...string) []string {
	t.Helper()
	sent := make(chan core.Event, 16)
	rt := &core.Runtime{App: core.Named("echo", echo.New()), Store: db}
	inst, err := rt.Start(context.Background(), &core.Scope{Type: "test", Key: "test:42"}, func(_ context.Context, ev core.Event) error {
		sent <- ev
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range say {
		name, args, _ := chat.ParseCommand(text, "")
		if err := inst.Deliver(context.Background(), &chat.Message{ID: string(rune('a' + i)), Text: text, Command: name, Args: args}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for range len(say) + 1 { // a greeting, then one answer per message
		select {
		case ev := <-sent:
			got = append(got, ev.(chat.Send).Text)
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out; got %q", got)
		}
	}
	if err := inst.Deliver(context.Background(), chat.Disconnect{Reason: "idle"}); err != nil {
		t.Fatal(err)
	}
	if err := inst.Err(); err != nil {
		t.Fatalf("scope ended with %v", err)
	}
	return got
}

func TestEchoRemembersNameAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[Welcome Anonymous!]", "You said: hello", "[set your username to Ada]", "Ada: You said: again", "Unknown command /nope. Commands: /name, /start."}
	got := conversation(t, db, "hello", "/name Ada", "again", "/nope")
	assertTexts(t, got, want)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = store.Open(path) // a restarted hub
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	assertTexts(t, conversation(t, db, "hi"), []string{"[Welcome Ada!]", "Ada: You said: hi"})
}

func assertTexts(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

func TestRegistered(t *testing.T) {
	if _, err := plugins.New("echo", nil); err != nil {
		t.Fatal(err)
	}
}
