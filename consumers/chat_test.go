package consumers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// chatConv runs one chat application instance and records what it sends.
type chatConv struct {
	t    *testing.T
	inst *core.Instance
	sent chan core.Event
}

func startChat(t *testing.T, app core.Application, store core.StateStore) *chatConv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &chatConv{t: t, sent: make(chan core.Event, 100)}
	rt := &core.Runtime{App: app, Store: store}
	inst, err := rt.Start(ctx, &core.Scope{Type: "test", Key: "test:1"}, func(_ context.Context, ev core.Event) error {
		c.sent <- ev
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.inst = inst
	t.Cleanup(func() { cancel(); <-inst.Done() })
	return c
}

func (c *chatConv) deliver(ev core.Event) {
	c.t.Helper()
	if err := c.inst.Deliver(context.Background(), ev); err != nil {
		c.t.Fatalf("deliver %s: %v", ev.Type(), err)
	}
}

func (c *chatConv) say(id, text string) {
	c.t.Helper()
	name, args, _ := chat.ParseCommand(text, "")
	c.deliver(&chat.Message{ID: id, Text: text, Command: name, Args: args})
}

// expect waits for the next len(want) actions and compares them.
func (c *chatConv) expect(want ...core.Event) {
	c.t.Helper()
	for i, w := range want {
		select {
		case got := <-c.sent:
			if got != w {
				c.t.Fatalf("action %d: got %#v, want %#v", i, got, w)
			}
		case <-time.After(5 * time.Second):
			c.t.Fatalf("action %d: timed out waiting for %#v", i, w)
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
	conv := startChat(t, consumers.NewChat(func() consumers.ChatHandler { return l }), nil)
	conv.expect(chat.Send{Text: "hello"})
	conv.say("1", "hi")
	conv.deliver(chat.Message{ID: "2", Text: "by value"})
	conv.deliver(&chat.Edited{Message: chat.Message{ID: "1", Text: "hi!"}})
	conv.deliver(custom{})
	conv.expect(
		chat.Send{Text: "got hi", ReplyTo: "1"},
		chat.Send{Text: "got by value", ReplyTo: "2"},
		chat.Edit{MessageID: "7", Text: "saw edit hi!"},
		chat.React{MessageID: "1", Emoji: "custom.event"},
	)
	conv.deliver(chat.Disconnect{Reason: "idle"})
	<-conv.inst.Done()
	if err := conv.inst.Err(); err != nil {
		t.Fatalf("scope ended with %v", err)
	}
	if got := <-l.log; got != "idle" {
		t.Fatalf("disconnect reason %q", got)
	}
}

func TestChatErrorEndsScope(t *testing.T) {
	boom := errors.New("boom")
	conv := startChat(t, consumers.NewChat(func() consumers.ChatHandler {
		return consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error { return boom })
	}), nil)
	conv.say("1", "hi")
	<-conv.inst.Done()
	if err := conv.inst.Err(); !errors.Is(err, boom) {
		t.Fatalf("scope ended with %v, want boom", err)
	}
}

func TestCommands(t *testing.T) {
	reply := func(text string) consumers.ChatFunc {
		return func(c *consumers.ChatConn, m *chat.Message) error { return c.Reply(m, text+" "+m.Args) }
	}
	cmds := consumers.Commands{"start": reply("started"), "name": reply("name is"), "": reply("plain")}
	conv := startChat(t, consumers.NewChat(func() consumers.ChatHandler { return cmds }), nil)
	conv.say("1", "/start")
	conv.say("2", "!name Ada")
	conv.say("3", "hello")
	conv.say("4", "/nope x")
	conv.expect(
		chat.Send{Text: "started ", ReplyTo: "1"},
		chat.Send{Text: "name is Ada", ReplyTo: "2"},
		chat.Send{Text: "plain ", ReplyTo: "3"},
		chat.Send{Text: "Unknown command /nope. Commands: /name, /start.", ReplyTo: "4"},
	)
}

func TestCommandsIgnorePlainTextWithoutDefault(t *testing.T) {
	cmds := consumers.Commands{"ping": func(c *consumers.ChatConn, m *chat.Message) error { return c.Reply(m, "pong") }}
	conv := startChat(t, consumers.NewChat(func() consumers.ChatHandler { return cmds }), nil)
	conv.say("1", "chatter")
	conv.say("2", "/ping")
	conv.expect(chat.Send{Text: "pong", ReplyTo: "2"})
}
