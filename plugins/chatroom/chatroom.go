package chatroom

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/websocket"
)

// Name is the plugin's name in the registry, and so the namespace of its
// state (a room's history).
const Name = "chatroom"

// Route is where the consumer expects to be mounted: it reads the room
// from the {room} parameter.
const Route = "/ws/chat/{room}/"

// Layer message types in a room's group: a chat line, and the edit or
// deletion of the line with the message's "id" (what a bridge,
// plugins/bridge, says when a bridged platform message was edited or
// deleted).
const (
	MessageType = "chat.message"
	EditedType  = "chat.edited"
	DeletedType = "chat.deleted"
)

// Config is the plugin's options in the hub's config file.
type Config struct {
	// History is how many messages each room keeps for newcomers (default 50).
	History int `json:"history"`
	// MaxMessage is the longest message accepted, in bytes (default 4096).
	// A longer one is refused with an error frame; the socket stays open.
	MaxMessage int `json:"max_message"`
}

// Defaults for Config's zero fields.
const (
	DefaultHistory    = 50
	DefaultMaxMessage = 4096
	// MaxUser is the longest user name accepted, in bytes.
	MaxUser = 64
	// recentIDs is how many history ids a newcomer remembers to drop the
	// duplicates of; see member.seen.
	recentIDs = 8
)

func (c Config) withDefaults() Config {
	if c.History <= 0 {
		c.History = DefaultHistory
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	return c
}

// Group is the channel-layer group of a room.
func Group(room string) string { return "chat_" + room }

// ValidRoom reports whether room can name a room: its group name must
// follow the layer's rules (letters, digits, - _ ., under 100 characters).
func ValidRoom(room string) error {
	if room == "" {
		return errors.New("chatroom: empty room name")
	}
	if err := layer.ValidGroupName(Group(room)); err != nil {
		return fmt.Errorf("chatroom: invalid room name %q: use letters, digits, - _ . (at most %d)", room, layer.MaxNameLength-1-len(Group("")))
	}
	return nil
}

// New returns the chat consumer. Mount it at Route (or any route with a
// {room} parameter).
func New(cfg Config) core.Application {
	cfg = cfg.withDefaults()
	return consumers.NewJSONWebSocket(func() consumers.JSONHandler[Inbound] { return &member{cfg: &cfg} })
}

// Inbound is what a client sends: {"message": "hi", "user": "ada"}.
type Inbound struct {
	Message string `json:"message"`
	User    string `json:"user,omitempty"`
}

// Outbound is what a client receives for every line in its room, and for
// every change to one. ID is the line's history id (absent on a line from a
// publisher that gave none). Edited marks new text for the line with that
// id: a client replaces that line's text, or shows it as a line of its own
// if it has no such line (the line was before its time, or there is no id).
// Deleted says the line with that id is gone: a client removes it.
type Outbound struct {
	ID      string `json:"id,omitempty"`
	Message string `json:"message,omitempty"`
	User    string `json:"user,omitempty"`
	Room    string `json:"room"`
	Edited  bool   `json:"edited,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
}

// entry is one record of a room's stored history: a line, or a change to
// an earlier one. The id travels in the layer message too, so a newcomer
// can drop the copy of a line it already got as history, and a change can
// name the line it changes.
type entry struct {
	ID      string `json:"id"`
	User    string `json:"user"`
	Message string `json:"message"`
	// Change is "" for a line, else what happened to the line with the
	// same id: changeEdited (Message is its new text) or changeDeleted.
	Change string `json:"change,omitempty"`
}

// Kinds of change records in a room's history.
const (
	changeEdited  = "edited"
	changeDeleted = "deleted"
)

// member is one socket in one room.
type member struct {
	cfg  *Config
	room string
	// seen holds the ids of the newest history lines sent on join. A line
	// stored before our history read but group-sent after our join would
	// otherwise arrive twice; that window is the microseconds between a
	// sender's append and its group send, so the newest few ids suffice,
	// and they are forgotten at the first line that is not a duplicate.
	seen []string
}

func (m *member) Connect(c *consumers.WebSocketConn) error {
	m.room = c.Scope.Param("room")
	if err := ValidRoom(m.room); err != nil {
		return c.Close(websocket.ClosePolicy, err.Error()) // denied: HTTP 403
	}
	// Join before reading the history, so no line falls between the two.
	if err := c.GroupAdd(Group(m.room)); err != nil {
		return err
	}
	c.On(MessageType, func(msg layer.Message) error { return m.forward(c, msg, false) })
	c.On(EditedType, func(msg layer.Message) error { return m.forward(c, msg, true) })
	c.On(DeletedType, func(msg layer.Message) error { return m.deleted(c, msg) })
	if err := c.Accept(""); err != nil {
		return err
	}
	return m.sendHistory(c)
}

func (m *member) history(c *consumers.WebSocketConn) *core.State {
	return c.State.Of(historyScope(m.room))
}

// historyScope is where a room's history lives, in the chatroom's state.
func historyScope(room string) string { return "room:" + room }

// The history is a log: a line, an edit and a deletion are each one
// appended record, so each is as atomic as an append (one store write,
// from any number of members and processes at once, crash or not), and a
// newcomer's history is the log replayed (see replay). The log keeps
// records(keep) records, room for as many changes as lines before a line
// falls out early.
func records(keep int) int { return 2 * keep }

// Remember adds a line posted to a room by someone other than its members
// (the bridge's copies of Telegram and Discord messages) to the room's
// history, so newcomers see it too, keeping the newest keep lines (0:
// DefaultHistory). st is the store; the history is the chatroom plugin's ("chatroom" namespace).
// Whoever publishes a line records it, so it is recorded once however many
// members hear it; the same goes for RememberEdit and RememberDelete.
func Remember(ctx context.Context, st core.StateStore, room, id, user, message string, keep int) error {
	return remember(ctx, st, room, entry{ID: id, User: user, Message: message}, keep)
}

// RememberEdit records in a room's history that the line id now reads
// message: newcomers get the new text, marked edited, in the line's place;
// if no line id is left in the history, they get it as a line of its own,
// as the members did. keep is as for Remember.
func RememberEdit(ctx context.Context, st core.StateStore, room, id, user, message string, keep int) error {
	return remember(ctx, st, room, entry{ID: id, User: user, Message: message, Change: changeEdited}, keep)
}

// RememberDelete records in a room's history that the line id is deleted:
// newcomers no longer get it. keep is as for Remember.
func RememberDelete(ctx context.Context, st core.StateStore, room, id string, keep int) error {
	return remember(ctx, st, room, entry{ID: id, Change: changeDeleted}, keep)
}

func remember(ctx context.Context, st core.StateStore, room string, e entry, keep int) error {
	if keep <= 0 {
		keep = DefaultHistory
	}
	return core.NewState(ctx, st, Name, historyScope(room)).Append("history", e, records(keep))
}

// replay turns a history log, oldest first, into the newest keep lines a
// newcomer gets, each change applied as a member's page applies it: an
// edit replaces the text of the lines with its id, or is a line of its
// own when there is none; a deletion removes them.
func replay(log []entry, room string, keep int) []Outbound {
	lines := make([]Outbound, 0, len(log))
	for _, e := range log {
		switch e.Change {
		case "":
			lines = append(lines, Outbound{ID: e.ID, Message: e.Message, User: e.User, Room: room})
		case changeEdited:
			found := false
			for i := range lines {
				if lines[i].ID == e.ID {
					lines[i].Message, lines[i].Edited, found = e.Message, true, true
				}
			}
			if !found {
				lines = append(lines, Outbound{ID: e.ID, Message: e.Message, User: e.User, Room: room, Edited: true})
			}
		case changeDeleted:
			lines = slices.DeleteFunc(lines, func(l Outbound) bool { return l.ID == e.ID })
		}
	}
	for i := range lines {
		if lines[i].User == "" {
			lines[i].User = "Anonymous"
		}
	}
	return lines[max(0, len(lines)-keep):]
}

func (m *member) sendHistory(c *consumers.WebSocketConn) error {
	var log []entry
	if err := m.history(c).List("history", &log); err != nil {
		if !errors.Is(err, core.ErrNoStore) {
			slog.Warn("chatroom: could not read history", "room", m.room, "err", err)
		}
		return nil // chat works without history
	}
	lines := replay(log, m.room, m.cfg.History)
	for _, l := range lines {
		if err := c.SendJSON(l); err != nil {
			return err
		}
	}
	for _, l := range lines[max(0, len(lines)-recentIDs):] {
		m.seen = append(m.seen, l.ID)
	}
	return nil
}

// ReceiveJSON stores the client's line and sends it to the room's group;
// the sender gets it back through the group like everyone else.
func (m *member) ReceiveJSON(c *consumers.WebSocketConn, in Inbound) error {
	user := m.user(c, in.User)
	switch {
	case strings.TrimSpace(in.Message) == "":
		return c.SendJSON(errorFrame("empty message"))
	case len(in.Message) > m.cfg.MaxMessage:
		return c.SendJSON(errorFrame(fmt.Sprintf("message too long: %d bytes (limit %d)", len(in.Message), m.cfg.MaxMessage)))
	case len(user) > MaxUser:
		return c.SendJSON(errorFrame(fmt.Sprintf("user name too long: %d bytes (limit %d)", len(user), MaxUser)))
	}
	e := entry{ID: newID(), User: user, Message: in.Message}
	if err := m.history(c).Append("history", e, records(m.cfg.History)); err != nil && !errors.Is(err, core.ErrNoStore) {
		slog.Warn("chatroom: could not store message", "room", m.room, "err", err)
	}
	return c.GroupSend(Group(m.room), layer.Message{
		"type": MessageType, "message": e.Message, "user": e.User, "room": m.room, "id": e.ID,
	})
}

// user is who speaks: the authenticated user when auth middleware set one
// (a client cannot speak in another's name), else the name the client
// gave, else Anonymous.
func (m *member) user(c *consumers.WebSocketConn, given string) string {
	if u := c.Scope.User; u != nil && u.Name != "" {
		return u.Name
	}
	if given = strings.TrimSpace(given); given != "" {
		return given
	}
	return "Anonymous"
}

// forward passes a line (or an edit) from the room's group to the client.
// Lines from other processes may lack user, room or id; only message is
// required. An edit without an id reaches the client as a line of its own.
func (m *member) forward(c *consumers.WebSocketConn, msg layer.Message, edited bool) error {
	text, ok := msg["message"].(string)
	if !ok {
		slog.Warn("chatroom: "+msg.Type()+" without a string message; dropped", "room", m.room)
		return nil
	}
	if !edited && m.duplicate(msg) {
		return nil
	}
	id, _ := msg["id"].(string)
	user, _ := msg["user"].(string)
	if user == "" {
		user = "Anonymous"
	}
	return c.SendJSON(Outbound{ID: id, Message: text, User: user, Room: m.room, Edited: edited})
}

// deleted tells the client that a line is gone. A deletion without an id
// names no line: it is dropped.
func (m *member) deleted(c *consumers.WebSocketConn, msg layer.Message) error {
	id, _ := msg["id"].(string)
	if id == "" {
		slog.Debug("chatroom: "+DeletedType+" without an id; dropped", "room", m.room) // an older bridge's
		return nil
	}
	return c.SendJSON(Outbound{ID: id, Room: m.room, Deleted: true})
}

// duplicate reports whether msg was already sent as history.
func (m *member) duplicate(msg layer.Message) bool {
	if m.seen == nil {
		return false
	}
	id, _ := msg["id"].(string)
	for i, s := range m.seen {
		if id != "" && s == id {
			m.seen = append(m.seen[:i], m.seen[i+1:]...)
			return true
		}
	}
	m.seen = nil // past the history: no duplicates left to expect
	return false
}

func errorFrame(msg string) map[string]string { return map[string]string{"error": msg} }

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
