package consumers_test

import (
	"errors"
	"testing"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/hubtest"
)

// expectActions waits for the next actions and compares them.
func expectActions(t *testing.T, conv *hubtest.ChatCommunicator, want ...core.Event) {
	t.Helper()
	for i, w := range want {
		got, err := conv.ReceiveOutput(0)
		if err != nil {
			t.Fatalf("action %d: %v", i, err)
		}
		if got != w {
			t.Fatalf("action %d: got %#v, want %#v", i, got, w)
		}
	}
}

type lifecycle struct {
	log chan string
}

func (l *lifecycle) Connect(c *consumers.ChatConn) error { return c.Send("hello") }

func (l *lifecycle) Receive(c *consumers.ChatConn, m *chat.Message) error {
	return c.Reply(m, "got "+m.Text)
}

func (l *lifecycle) Edited(c *consumers.ChatConn, e *chat.Edited) error {
	return c.Edit("7", "saw edit "+e.Text)
}

func (l *lifecycle) Event(c *consumers.ChatConn, ev core.Event) error {
	return c.React("1", ev.Type())
}

func (l *lifecycle) Disconnect(c *consumers.ChatConn, d chat.Disconnect) error {
	l.log <- d.Reason
	return nil
}

type custom struct{}

func (custom) Type() string { return "custom.event" }

func TestChatLifecycle(t *testing.T) {
	l := &lifecycle{log: make(chan string, 1)}
	conv := hubtest.Chat(t, consumers.NewChat(func() consumers.ChatHandler { return l }))
	expectActions(t, conv, chat.Send{Text: "hello"})
	hi := conv.Say("hi")
	conv.Deliver(chat.Message{ID: "v", Text: "by value"})
	conv.Deliver(&chat.Edited{Message: chat.Message{ID: hi.ID, Text: "hi!"}})
	conv.Deliver(custom{})
	expectActions(t, conv,
		chat.Send{Text: "got hi", ReplyTo: hi.ID},
		chat.Send{Text: "got by value", ReplyTo: "v"},
		chat.Edit{MessageID: "7", Text: "saw edit hi!"},
		chat.React{MessageID: "1", Emoji: "custom.event"},
	)
	conv.Disconnect("idle")
	if got := <-l.log; got != "idle" {
		t.Fatalf("disconnect reason %q", got)
	}
}

func TestChatSendMessageReturnsID(t *testing.T) {
	conv := hubtest.Chat(t, consumers.NewChat(func() consumers.ChatHandler {
		return consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
			id, err := c.SendMessage(chat.Send{Text: "draft"})
			if err != nil {
				return err
			}
			return c.Edit(id, "final")
		})
	}))
	conv.Say("go")
	if s := conv.ReceiveSend(); s.Text != "draft" {
		t.Fatalf("got %+v", s)
	}
	expectActions(t, conv, chat.Edit{MessageID: "sent-1", Text: "final"})
}

func TestChatErrorEndsScope(t *testing.T) {
	boom := errors.New("boom")
	conv := hubtest.Chat(t, consumers.NewChat(func() consumers.ChatHandler {
		return consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error { return boom })
	}))
	conv.Say("hi")
	if err := conv.Wait(); !errors.Is(err, boom) {
		t.Fatalf("scope ended with %v, want boom", err)
	}
}

func TestCommands(t *testing.T) {
	reply := func(text string) consumers.ChatFunc {
		return func(c *consumers.ChatConn, m *chat.Message) error { return c.Reply(m, text+" "+m.Args) }
	}
	cmds := consumers.Commands{"start": reply("started"), "name": reply("name is"), "": reply("plain")}
	conv := hubtest.Chat(t, consumers.NewChat(func() consumers.ChatHandler { return cmds }))
	conv.Say("/start")
	conv.Say("!name Ada")
	conv.Say("hello")
	conv.Say("/nope x")
	conv.Expect("started ", "name is Ada", "plain ", "Unknown command /nope. Commands: /name, /start.")
}

func TestCommandsIgnorePlainTextWithoutDefault(t *testing.T) {
	cmds := consumers.Commands{"ping": func(c *consumers.ChatConn, m *chat.Message) error { return c.Reply(m, "pong") }}
	conv := hubtest.Chat(t, consumers.NewChat(func() consumers.ChatHandler { return cmds }))
	conv.Say("chatter")
	conv.Say("/ping")
	conv.Expect("pong")
	conv.ExpectNothing()
}
