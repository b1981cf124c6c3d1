package hubtest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// ChatCommunicator is one conversation with a chat application: the test
// plays the person and the platform, the application the bot. Its methods
// are for the test goroutine; the ones without an error result fail the
// test with a clear message.
type ChatCommunicator struct {
	*session
	sender chat.Sender

	// guarded by session.mu
	said, sent int // ids of messages said and sent
}

// Chat starts app for one conversation, with a Hub of its own. Like a chat
// adapter, it starts the scope at once (a chat scope has no handshake):
// the consumer's Connect hook runs before the first message.
func Chat(t testing.TB, app core.Application, opts ...Option) *ChatCommunicator {
	t.Helper()
	return NewHub(t, opts...).Chat(app)
}

// Chat starts app for one conversation on this hub. Its key is
// "chat:hubtest-N" unless the Key option names it — give the same key
// again after Hub.Restart to resume a conversation and its state.
func (h *Hub) Chat(app core.Application, opts ...Option) *ChatCommunicator {
	h.t.Helper()
	o := apply(h.opts, opts)
	key, _ := h.nextKey("chat")
	if o.key != "" {
		key = o.key
	}
	protocol, _, _ := strings.Cut(key, ":")
	scope := &core.Scope{Type: protocol, Key: key}
	sender := o.sender
	if sender == (chat.Sender{}) {
		sender = chat.Sender{ID: "1001", Name: "Test User", Username: "tester"}
	}
	c := &ChatCommunicator{session: newSession(h, o, scope, key), sender: sender}
	c.onAction, c.farewell = c.action, c.goodbye
	c.start(app, o)
	return c
}

// Key names the conversation of a Chat communicator ("telegram:support:42");
// the scope's type is the part before the first ':'.
func Key(key string) Option { return func(o *options) { o.key = key } }

// As sets who speaks in a Chat communicator (default: ID "1001", "Test
// User", @tester).
func As(sender chat.Sender) Option { return func(o *options) { o.sender = sender } }

// action normalises chat actions to values and, like a platform, gives a
// sent message its id when the consumer asked for it.
func (c *ChatCommunicator) action(ev core.Event) core.Event {
	switch e := ev.(type) {
	case *chat.Send:
		ev = *e
	case *chat.Edit:
		ev = *e
	case *chat.Delete:
		ev = *e
	case *chat.React:
		ev = *e
	case *chat.Typing:
		ev = *e
	}
	if s, ok := ev.(chat.Send); ok && s.Sent != nil {
		c.sent++
		*s.Sent = "sent-" + strconv.Itoa(c.sent)
	}
	return ev
}

// goodbye is the Disconnect of a conversation still open when the session
// stops: the hub is shutting down, or the test is over (the conversation
// went idle).
func (c *ChatCommunicator) goodbye(byHub bool) core.Event {
	if byHub {
		return chat.Disconnect{Reason: "shutdown"}
	}
	return chat.Disconnect{Reason: "idle"}
}

// Say sends text as the person, with commands parsed as adapters do
// ("/name Ada" has Command "name", Args "Ada"), and returns the message so
// a test can check replies to it.
func (c *ChatCommunicator) Say(text string) *chat.Message {
	c.t.Helper()
	c.mu.Lock()
	c.said++
	id := strconv.Itoa(c.said)
	c.mu.Unlock()
	m := &chat.Message{ID: id, Text: text, Sender: c.sender, Chat: chat.Chat{ID: c.sender.ID, Private: true},
		Platform: c.scope.Type, Bot: c.scope.Bot}
	m.Command, m.Args, _ = chat.ParseCommand(text, c.scope.Bot)
	c.mustDeliver(m)
	return m
}

// Deliver gives the application any event: an edit, a platform event, a
// layer message.
func (c *ChatCommunicator) Deliver(ev core.Event) {
	c.t.Helper()
	c.mustDeliver(ev)
}

// Expect waits for the application to send these texts, in this order.
// Typing indicators in between are skipped.
func (c *ChatCommunicator) Expect(texts ...string) {
	c.t.Helper()
	for i, want := range texts {
		if got := c.ReceiveSend(); got.Text != want {
			c.t.Fatalf("hubtest: %s: message %d of %d: got %q, want %q", c.label, i+1, len(texts), got.Text, want)
		}
	}
}

// ReceiveSend waits for the next message the application sends, skipping
// typing indicators, and returns it (with ReplyTo, for replies).
func (c *ChatCommunicator) ReceiveSend() chat.Send {
	c.t.Helper()
	for {
		ev := c.mustReceive("a chat.send")
		switch ev := ev.(type) {
		case chat.Typing:
			continue
		case chat.Send:
			return ev
		}
		c.t.Fatalf("hubtest: %s: want a chat.send, got %s", c.label, describe(ev))
	}
}

// Disconnect ends the conversation as an adapter does when it goes idle
// ("idle") or the hub stops ("shutdown"), and waits for the application to
// return.
func (c *ChatCommunicator) Disconnect(reason string) {
	c.t.Helper()
	if err := c.deliver(chat.Disconnect{Reason: reason}); err != nil && !c.isDone() {
		c.t.Fatalf("hubtest: %s: disconnect: %v", c.label, err)
	}
	if _, err := c.wait(); err != nil {
		c.t.Fatalf("hubtest: %s: after disconnect: %v", c.label, err)
	}
}

func describeChat(ev core.Event) (string, bool) {
	switch ev := ev.(type) {
	case chat.Send:
		if ev.ReplyTo != "" {
			return fmt.Sprintf("chat.send %q (reply to %s)", ev.Text, ev.ReplyTo), true
		}
		return fmt.Sprintf("chat.send %q", ev.Text), true
	case chat.Edit:
		return fmt.Sprintf("chat.edit of %s to %q", ev.MessageID, ev.Text), true
	}
	return "", false
}
