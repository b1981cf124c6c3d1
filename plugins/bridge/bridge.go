package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hubhq/hub/adapters/discord"
	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/plugins/chatroom"
)

// Bridge is one room spanning chat conversations and the browser chat
// room. It is a chat consumer for the routes of the bridged bots (the chat
// side: it only publishes what is said to the room's group) and a
// plugins.Service (the relay: it posts what the group carries in every
// other endpoint).
type Bridge struct {
	room      string
	history   int // lines the room keeps (chatroom's history option)
	endpoints []endpoint
	chat      core.Application
}

var (
	_ core.Application = (*Bridge)(nil)
	_ plugins.Service  = (*Bridge)(nil)
)

// New returns the bridge of cfg.Room, or an error that says what is wrong
// with cfg.
func New(cfg Config) (*Bridge, error) {
	eps, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	if cfg.History <= 0 {
		cfg.History = chatroom.DefaultHistory
	}
	b := &Bridge{room: cfg.Room, history: cfg.History, endpoints: eps}
	// The handler keeps nothing per conversation, so one value serves all.
	side := &chatSide{b}
	b.chat = consumers.NewChat(func() consumers.ChatHandler { return side })
	return b, nil
}

// Serve implements core.Application: the chat side.
func (b *Bridge) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	return b.chat.Serve(ctx, scope, inbox, send)
}

func (b *Bridge) bridges(scopeKey string) bool {
	for _, ep := range b.endpoints {
		if ep.key == scopeKey {
			return true
		}
	}
	return false
}

// Fields of the room messages a bridge adds to the chatroom's: where a
// message was written and its id there, so the relay can link and find
// its copies.
const (
	fieldOrigin   = "origin"          // the scope key of the conversation
	fieldOriginID = "origin_id"       // the platform's message id there
	fieldReplyTo  = "origin_reply_to" // the platform id, there, of the message answered
)

// chatSide turns what is said in an endpoint into room messages.
type chatSide struct{ b *Bridge }

// Receive publishes a message to the room. Other bots are not bridged: two
// bridges in one chat would otherwise pass each other's copies back and
// forth forever.
func (s *chatSide) Receive(c *consumers.ChatConn, m *chat.Message) error {
	key := c.Scope.Key
	switch {
	case m.Command == "bridge":
		return c.Reply(m, s.about(key))
	case !s.b.bridges(key) || m.Sender.IsBot:
		return nil
	}
	text := content(m)
	if text == "" {
		return nil
	}
	msg := s.roomMessage(chatroom.MessageType, key, m)
	msg["message"] = text
	if m.ReplyTo != nil && m.ReplyTo.ID != "" {
		msg[fieldReplyTo] = m.ReplyTo.ID
	}
	return s.publish(c, msg)
}

// Edited publishes an edit, naming the line it edits by the original's hub
// id (see hubID); the relay finds the copies by the origin.
func (s *chatSide) Edited(c *consumers.ChatConn, e *chat.Edited) error {
	key := c.Scope.Key
	if !s.b.bridges(key) || e.Sender.IsBot {
		return nil
	}
	text := content(&e.Message)
	if text == "" {
		return nil
	}
	msg := s.roomMessage(chatroom.EditedType, key, &e.Message)
	msg["message"] = text
	return s.publish(c, msg)
}

// Event publishes Discord's deletions (Telegram tells bots of none).
func (s *chatSide) Event(c *consumers.ChatConn, ev core.Event) error {
	var id string
	switch d := ev.(type) {
	case discord.MessageDelete:
		id = d.ID
	case *discord.MessageDelete:
		id = d.ID
	default:
		return nil
	}
	key := c.Scope.Key
	if !s.b.bridges(key) {
		return nil
	}
	return s.publish(c, layer.Message{"type": chatroom.DeletedType, "room": s.b.room, "id": hubID(key, id), fieldOrigin: key, fieldOriginID: id})
}

// roomMessage is a room message about m, written in the conversation key:
// its id is m's hub id, the room line's history id.
func (s *chatSide) roomMessage(typ, key string, m *chat.Message) layer.Message {
	return layer.Message{"type": typ, "room": s.b.room, "user": author(m.Sender), "id": hubID(key, m.ID), fieldOrigin: key, fieldOriginID: m.ID}
}

// hubID is the hub id of the message id written in the conversation key:
// derived from the two, so the chat side names the same room line for a
// message, its edits and its deletion with nothing to look up, after a
// restart and in every hub on the layer alike (and a platform's redelivery
// of a message keeps its id). A message without an id gets a fresh one.
func hubID(key, id string) string {
	if id == "" {
		return newID()
	}
	sum := sha256.Sum256([]byte(key + "\x00" + id))
	return hex.EncodeToString(sum[:8])
}

func (s *chatSide) publish(c *consumers.ChatConn, msg layer.Message) error {
	if err := c.Scope.GroupSend(c.Context(), chatroom.Group(s.b.room), msg); err != nil {
		return fmt.Errorf("bridge: to room %s: %w", s.b.room, err)
	}
	return nil
}

// about answers /bridge: whether this conversation is bridged, and if not,
// the scope key to list, which is otherwise hard to find out.
func (s *chatSide) about(key string) string {
	if s.b.bridges(key) {
		return "This conversation is bridged to the room " + s.b.room + "."
	}
	return "This conversation is not bridged. To bridge it to the room " + s.b.room + ", add " + key + " to the bridge's endpoints."
}

// author is the name a message is shown under elsewhere.
func author(s chat.Sender) string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Username != "":
		return s.Username
	}
	return "Anonymous"
}

// content is a message as text: its text, then a link or a [kind] mark per
// attachment (a Telegram file id means nothing on another platform).
func content(m *chat.Message) string {
	var parts []string
	if strings.TrimSpace(m.Text) != "" {
		parts = append(parts, m.Text)
	}
	for _, a := range m.Attachments {
		switch {
		case a.URL != "":
			parts = append(parts, a.URL)
		case a.Kind != "":
			parts = append(parts, "["+a.Kind+"]")
		default:
			parts = append(parts, "[file]")
		}
	}
	return strings.Join(parts, "\n")
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
