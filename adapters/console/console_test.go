package console_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubhq/hub/adapters/console"
	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/internal/syncbuf"
	"github.com/hubhq/hub/plugins/echo"
	"github.com/hubhq/hub/store"
)

// converse runs one conversation to the end of input and returns the lines
// written.
func converse(t *testing.T, rt *core.Runtime, user, input string) []string {
	t.Helper()
	var out bytes.Buffer
	a, err := console.New(console.Options{Runtime: rt, User: user, In: strings.NewReader(input), Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

func TestEchoRemembersNameAcrossRuns(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rt := &core.Runtime{App: core.Named("echo", echo.New()), Store: db}

	got := converse(t, rt, "ada", "hello\n\n/name Ada\n")
	want := []string{"[Welcome Anonymous!]", "You said: hello", "[set your username to Ada]"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	got = converse(t, rt, "ada", "hi")
	if want := []string{"[Welcome Ada!]", "Ada: You said: hi"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("second run: got %q, want %q", got, want)
	}
	// Another user is another conversation.
	if got := converse(t, rt, "bob", ""); got[0] != "[Welcome Anonymous!]" {
		t.Fatalf("bob got %q", got)
	}
}

func TestActionsAndMessages(t *testing.T) {
	seen := make(chan *chat.Message, 1)
	app := consumers.NewChat(func() consumers.ChatHandler {
		return consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
			seen <- m
			id, err := c.SendMessage(chat.Send{Text: "draft"})
			if err != nil {
				return err
			}
			if err := c.Edit(id, "final"); err != nil {
				return err
			}
			if err := c.React(m.ID, "👍"); err != nil {
				return err
			}
			return c.Delete(id)
		})
	})
	got := converse(t, &core.Runtime{App: app}, "ada", "/start now\n")
	want := []string{"draft", "[edited #2] final", "[reacted 👍 to #1]", "[deleted #2]"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	m := <-seen
	if m.Command != "start" || m.Args != "now" || m.Platform != "console" || m.Sender.Name != "ada" || !m.Chat.Private {
		t.Fatalf("message %+v", m)
	}
}

func TestStopsWithContext(t *testing.T) {
	r, w := io.Pipe() // input that never ends
	defer w.Close()
	var out syncbuf.Buffer
	a, err := console.New(console.Options{Runtime: &core.Runtime{App: echo.New()}, User: "ada", In: r, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	if _, err := io.WriteString(w, "hello\n"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestOptionErrors(t *testing.T) {
	rt := &core.Runtime{App: echo.New()}
	for _, o := range []console.Options{
		{User: "ada", In: strings.NewReader(""), Out: io.Discard},
		{Runtime: rt, User: "a b", In: strings.NewReader(""), Out: io.Discard},
		{Runtime: rt, User: "ada"},
	} {
		if _, err := console.New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}
