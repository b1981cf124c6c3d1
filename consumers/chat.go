package consumers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// ChatHandler is a chat consumer written once for every chat platform. One
// handler value serves one conversation, and its methods are called one at a
// time, so it may keep per-conversation fields without locks; what must
// outlive the scope goes in c.State.
//
// A handler may also implement any of Connect(c) error (called when the
// scope opens, before its first event), Disconnect(c, chat.Disconnect) error
// (its last event: the conversation went idle or the hub is stopping),
// Edited(c, *chat.Edited) error and Event(c, core.Event) error (everything
// else: platform events such as telegram.CallbackQuery, channel-layer
// messages). Events with no method are ignored.
type ChatHandler interface {
	Receive(c *ChatConn, m *chat.Message) error
}

// ChatFunc lets a function be a ChatHandler (and a Commands entry).
type ChatFunc func(c *ChatConn, m *chat.Message) error

// Receive calls f.
func (f ChatFunc) Receive(c *ChatConn, m *chat.Message) error { return f(c, m) }

// The optional parts of a ChatHandler.
type (
	chatConnector    interface{ Connect(c *ChatConn) error }
	chatDisconnector interface {
		Disconnect(c *ChatConn, d chat.Disconnect) error
	}
	chatEditor interface {
		Edited(c *ChatConn, e *chat.Edited) error
	}
	chatEventHandler interface {
		Event(c *ChatConn, ev core.Event) error
	}
)

// NewChat makes an Application of a chat handler: newHandler is called once
// per scope (per conversation) for a fresh handler value.
func NewChat(newHandler func() ChatHandler) core.Application {
	return core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		return serveChat(ctx, &ChatConn{Scope: scope, State: scope.State, ctx: ctx, send: send}, newHandler(), inbox)
	})
}

func serveChat(ctx context.Context, c *ChatConn, h ChatHandler, inbox core.Inbox) error {
	if h, ok := h.(chatConnector); ok {
		if err := h.Connect(c); err != nil {
			return fmt.Errorf("chat: connect %s: %w", c.Scope.Key, err)
		}
	}
	for {
		ev, err := inbox.Next(ctx)
		if err != nil {
			return err
		}
		if d, ok := asDisconnect(ev); ok {
			if h, ok := h.(chatDisconnector); ok {
				return h.Disconnect(c, d)
			}
			return nil
		}
		if err := dispatchChat(c, h, ev); err != nil {
			return fmt.Errorf("chat: %s in %s: %w", ev.Type(), c.Scope.Key, err)
		}
	}
}

// dispatchChat calls the handler method for one event. Adapters deliver
// pointers; values are accepted too, so tests may write chat.Message{…}.
func dispatchChat(c *ChatConn, h ChatHandler, ev core.Event) error {
	switch ev := ev.(type) {
	case *chat.Message:
		return h.Receive(c, ev)
	case chat.Message:
		return h.Receive(c, &ev)
	case *chat.Edited:
		if h, ok := h.(chatEditor); ok {
			return h.Edited(c, ev)
		}
	case chat.Edited:
		if h, ok := h.(chatEditor); ok {
			return h.Edited(c, &ev)
		}
	default:
		if h, ok := h.(chatEventHandler); ok {
			return h.Event(c, ev)
		}
	}
	return nil
}

func asDisconnect(ev core.Event) (chat.Disconnect, bool) {
	switch d := ev.(type) {
	case chat.Disconnect:
		return d, true
	case *chat.Disconnect:
		return *d, true
	}
	return chat.Disconnect{}, false
}

// ChatConn is a handler's side of one conversation: its scope, its state
// and the actions it can take. Every action waits until the adapter has
// performed it (or failed to) and is cancelled when the scope ends.
type ChatConn struct {
	Scope *core.Scope
	// State is the conversation's persistent state (Scope.State).
	State *core.State

	ctx  context.Context
	send core.SendFunc
}

// Context is cancelled when the scope ends.
func (c *ChatConn) Context() context.Context { return c.ctx }

// Do performs any action, such as a platform's own (telegram.AnswerCallback).
func (c *ChatConn) Do(action core.Event) error { return c.send(c.ctx, action) }

// Send posts a message in the conversation.
func (c *ChatConn) Send(text string) error { return c.Do(chat.Send{Text: text}) }

// SendMessage posts a message and returns its id, for a later Edit or
// Delete.
func (c *ChatConn) SendMessage(s chat.Send) (id string, err error) {
	s.Sent = &id
	err = c.Do(s)
	return id, err
}

// Reply posts a message answering m.
func (c *ChatConn) Reply(m *chat.Message, text string) error {
	return c.Do(chat.Send{Text: text, ReplyTo: m.ID})
}

// Edit changes the text of a message the bot sent.
func (c *ChatConn) Edit(messageID, text string) error {
	return c.Do(chat.Edit{MessageID: messageID, Text: text})
}

// Delete removes a message.
func (c *ChatConn) Delete(messageID string) error { return c.Do(chat.Delete{MessageID: messageID}) }

// React sets the bot's reaction on a message ("" removes it).
func (c *ChatConn) React(messageID, emoji string) error {
	return c.Do(chat.React{MessageID: messageID, Emoji: emoji})
}

// Typing shows that the bot is writing.
func (c *ChatConn) Typing() error { return c.Do(chat.Typing{}) }

// Commands routes command messages ("/start", "!help x", "/name@bot x") to
// a handler by name, so a consumer's Receive can be
//
//	return consumers.Commands{"start": e.start, "name": e.setName, "": e.echo}.Receive(c, m)
//
// The entry "" takes messages that are not commands; without it they are
// ignored. An unknown command is answered with the list of known ones.
type Commands map[string]ChatFunc

// Receive implements ChatHandler.
func (cs Commands) Receive(c *ChatConn, m *chat.Message) error {
	if m.Command == "" {
		if h := cs[""]; h != nil {
			return h(c, m)
		}
		return nil
	}
	if h := cs[m.Command]; h != nil {
		return h(c, m)
	}
	return c.Reply(m, cs.unknown(m.Command))
}

func (cs Commands) unknown(name string) string {
	var known []string
	for _, k := range slices.Sorted(maps.Keys(cs)) {
		if k != "" {
			known = append(known, "/"+k)
		}
	}
	if len(known) == 0 {
		return fmt.Sprintf("Unknown command /%s.", name)
	}
	return fmt.Sprintf("Unknown command /%s. Commands: %s.", name, strings.Join(known, ", "))
}
