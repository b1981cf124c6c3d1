package hubtest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/hubtest"
)

// greeter is DESIGN §10's echo: it greets by the remembered name, sets it
// with /name, and replies to everything else.
type greeter struct{ name string }

func newGreeter() consumers.ChatHandler { return &greeter{} }

func (g *greeter) Connect(c *consumers.ChatConn) error {
	g.name = c.State.String("name", "Anonymous")
	return c.Send(fmt.Sprintf("[Welcome %s!]", g.name))
}

func (g *greeter) Receive(c *consumers.ChatConn, m *chat.Message) error {
	switch m.Command {
	case "name":
		g.name = m.Args
		if err := c.State.Set("name", g.name); err != nil {
			return err
		}
		return c.Reply(m, "[set your username to "+g.name+"]")
	case "id":
		id, err := c.SendMessage(chat.Send{Text: "this one"})
		if err != nil {
			return err
		}
		return c.Edit(id, "edited "+id)
	}
	if err := c.Typing(); err != nil {
		return err
	}
	return c.Reply(m, "You said: "+m.Text)
}

func TestChat(t *testing.T) {
	conv := hubtest.Chat(t, consumers.NewChat(newGreeter))
	m := conv.Say("hello")
	conv.Expect("[Welcome Anonymous!]")
	if got := conv.ReceiveSend(); got.Text != "You said: hello" || got.ReplyTo != m.ID {
		t.Fatalf("got %+v, want a reply to %s", got, m.ID)
	}
	conv.Say("/id")
	conv.Expect("this one")
	ev, err := conv.ReceiveOutput(0)
	if err != nil || ev != (chat.Edit{MessageID: "sent-1", Text: "edited sent-1"}) {
		t.Fatalf("got %v, %v; want the edit of the sent message", ev, err)
	}
	conv.ExpectNothing()
	conv.Disconnect("idle")
}

func TestChatStateSurvivesRestart(t *testing.T) {
	hub := hubtest.NewHub(t)
	app := consumers.NewChat(newGreeter)
	conv := hub.Chat(app, hubtest.Key("telegram:support:42"))
	if conv.Scope().Type != "telegram" {
		t.Fatalf("scope type %q", conv.Scope().Type)
	}
	conv.Expect("[Welcome Anonymous!]")
	conv.Say("/name Ada")
	conv.Expect("[set your username to Ada]")
	hub.Restart()
	if err := conv.Wait(); err != nil {
		t.Fatalf("shutdown ended the conversation with %v", err)
	}
	again := hub.Chat(app, hubtest.Key("telegram:support:42"))
	again.Expect("[Welcome Ada!]")
}

func TestChatFailureMessages(t *testing.T) {
	got := run(t, func(t testing.TB) {
		conv := hubtest.Chat(t, consumers.NewChat(newGreeter))
		conv.Say("hi")
		conv.Expect("[Welcome Anonymous!]", "You said: hello")
	})
	if want := `message 2 of 2: got "You said: hi", want "You said: hello"`; !strings.Contains(got, want) {
		t.Fatalf("failure %q, want %q", got, want)
	}
}
