package exec

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/websocket"
)

// Protocol is the version of the line protocol this package speaks; the
// hub.hello/plugin.hello handshake checks that both sides agree.
const Protocol = 1

// The messages on the wire. Lines from the hub always carry "type"; lines
// from the plugin carry "type" ("plugin.hello", "done") or "action".
type (
	hubHello struct {
		Type     string `json:"type"` // "hub.hello"
		Protocol int    `json:"protocol"`
		Plugin   string `json:"plugin"`
	}

	eventLine struct {
		Type  string    `json:"type"` // "event"
		Seq   uint64    `json:"seq"`
		Scope wireScope `json:"scope"`
		Event any       `json:"event"`
	}

	// reply answers an action that carried an id.
	reply struct {
		Type      string          `json:"type"` // "state.value" or "action.result"
		ID        json.RawMessage `json:"id"`
		Found     *bool           `json:"found,omitempty"`
		Value     json.RawMessage `json:"value,omitempty"`
		MessageID string          `json:"message_id,omitempty"`
		Error     string          `json:"error,omitempty"`
	}

	// pluginLine is any line the plugin writes.
	pluginLine struct {
		Type     string          `json:"type"`
		Protocol int             `json:"protocol"`
		Scope    string          `json:"scope"`
		For      uint64          `json:"for"`
		ID       json.RawMessage `json:"id"`
		Action   json.RawMessage `json:"action"`
	}

	wireScope struct {
		Key     string            `json:"key"`
		Type    string            `json:"type"`
		Path    string            `json:"path,omitempty"`
		Params  map[string]string `json:"params,omitempty"`
		Bot     string            `json:"bot,omitempty"`
		User    *wireUser         `json:"user,omitempty"`
		Channel string            `json:"channel,omitempty"`
	}

	wireUser struct {
		ID   string `json:"id"`
		Name string `json:"name,omitempty"`
	}
)

func scopeOf(s *core.Scope) wireScope {
	w := wireScope{Key: s.Key, Type: s.Type, Path: s.Path, Params: s.Params, Bot: s.Bot, Channel: s.Channel}
	if s.User != nil {
		w.User = &wireUser{ID: s.User.ID, Name: s.User.Name}
	}
	return w
}

// connectEvent is the protocol's own first event of a scope; its last,
// scope.disconnect, is written without waiting (see session.farewell).
type (
	// connectEvent opens a scope in a process: at its start, and again
	// (Resumed) for a process that restarted while the scope was open.
	connectEvent struct {
		Resumed bool `json:"resumed"`
	}
)

func (connectEvent) Type() string { return "scope.connect" }

// The chat vocabulary in snake_case, so a plugin in any language reads the
// same field names the documentation gives.
type (
	wireMessage struct {
		Type        string           `json:"type"`
		ID          string           `json:"id"`
		Text        string           `json:"text"`
		Sender      wireSender       `json:"sender"`
		Chat        wireChat         `json:"chat"`
		ReplyTo     *wireRef         `json:"reply_to,omitempty"`
		Attachments []wireAttachment `json:"attachments,omitempty"`
		Command     string           `json:"command,omitempty"`
		Args        string           `json:"args,omitempty"`
		Platform    string           `json:"platform,omitempty"`
		Bot         string           `json:"bot,omitempty"`
		Raw         json.RawMessage  `json:"raw,omitempty"`
	}
	wireSender struct {
		ID       string `json:"id"`
		Name     string `json:"name,omitempty"`
		Username string `json:"username,omitempty"`
		IsBot    bool   `json:"is_bot,omitempty"`
	}
	wireChat struct {
		ID      string `json:"id"`
		Title   string `json:"title,omitempty"`
		Private bool   `json:"private,omitempty"`
		Thread  string `json:"thread,omitempty"`
	}
	wireRef struct {
		ID     string     `json:"id"`
		Text   string     `json:"text,omitempty"`
		Sender wireSender `json:"sender"`
	}
	wireAttachment struct {
		Kind   string `json:"kind"`
		Name   string `json:"name,omitempty"`
		MIME   string `json:"mime,omitempty"`
		Size   int64  `json:"size,omitempty"`
		URL    string `json:"url,omitempty"`
		FileID string `json:"file_id,omitempty"`
	}
)

func sender(s chat.Sender) wireSender {
	return wireSender{ID: s.ID, Name: s.Name, Username: s.Username, IsBot: s.IsBot}
}

func message(typ string, m *chat.Message) wireMessage {
	w := wireMessage{Type: typ, ID: m.ID, Text: m.Text, Sender: sender(m.Sender),
		Chat:    wireChat{ID: m.Chat.ID, Title: m.Chat.Title, Private: m.Chat.Private, Thread: m.Chat.Thread},
		Command: m.Command, Args: m.Args, Platform: m.Platform, Bot: m.Bot}
	if m.ReplyTo != nil {
		w.ReplyTo = &wireRef{ID: m.ReplyTo.ID, Text: m.ReplyTo.Text, Sender: sender(m.ReplyTo.Sender)}
	}
	for _, a := range m.Attachments {
		w.Attachments = append(w.Attachments, wireAttachment(a))
	}
	if m.Raw != nil {
		// The platform's own update is a convenience: one that does not
		// encode is left out rather than failing the event.
		if raw, err := json.Marshal(m.Raw); err == nil {
			w.Raw = raw
		}
	}
	return w
}

// encodeEvent gives an event its wire form: the chat, WebSocket and
// protocol events field by field, channel-layer messages as they are, and
// any other event as its Go fields with "type" added.
func encodeEvent(ev core.Event) (any, error) {
	switch e := ev.(type) {
	case *chat.Message:
		return message(e.Type(), e), nil
	case chat.Message:
		return message(e.Type(), &e), nil
	case *chat.Edited:
		return message(e.Type(), &e.Message), nil
	case chat.Edited:
		return message(e.Type(), &e.Message), nil
	case chat.Disconnect:
		return map[string]any{"type": e.Type(), "reason": e.Reason}, nil
	case *chat.Disconnect:
		return map[string]any{"type": e.Type(), "reason": e.Reason}, nil
	case connectEvent:
		return map[string]any{"type": e.Type(), "resumed": e.Resumed}, nil
	case websocket.Connect:
		return map[string]any{"type": e.Type()}, nil
	case websocket.Receive:
		if e.IsBinary() {
			return map[string]any{"type": e.Type(), "bytes": base64.StdEncoding.EncodeToString(e.Bytes)}, nil
		}
		return map[string]any{"type": e.Type(), "text": e.Text}, nil
	case websocket.Disconnect:
		return map[string]any{"type": e.Type(), "code": e.Code, "reason": e.Reason}, nil
	case layer.Message:
		return e, nil
	}
	return genericEvent(ev)
}

func genericEvent(ev core.Event) (any, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ev.Type(), err)
	}
	var fields map[string]any
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		return map[string]any{"type": ev.Type(), "value": json.RawMessage(raw)}, nil
	}
	fields["type"] = ev.Type()
	return fields, nil
}

// isLast reports whether ev is a scope's last event, after which its
// application returns.
func isLast(ev core.Event) bool {
	switch ev.(type) {
	case chat.Disconnect, *chat.Disconnect, websocket.Disconnect, *websocket.Disconnect:
		return true
	}
	return false
}

// action is any action a plugin asks for; each type reads its own fields.
type action struct {
	Type        string          `json:"type"`
	Text        string          `json:"text"`
	ReplyTo     string          `json:"reply_to"`
	MessageID   string          `json:"message_id"`
	Emoji       string          `json:"emoji"`
	Group       string          `json:"group"`
	Channel     string          `json:"channel"`
	Message     layer.Message   `json:"message"`
	Key         string          `json:"key"`
	Value       json.RawMessage `json:"value"`
	TTL         float64         `json:"ttl"` // seconds; 0 keeps the value
	Keep        int             `json:"keep"`
	Bytes       []byte          `json:"bytes"` // base64, for websocket.send
	Code        int             `json:"code"`
	Reason      string          `json:"reason"`
	Subprotocol string          `json:"subprotocol"`
}

// platformEvent turns the actions that are adapter events into them; ok is
// false for the hub's own actions (layer, state) and unknown ones.
// sent, if not nil, receives a sent message's id.
func (a *action) platformEvent(sent *string) (core.Event, bool) {
	switch a.Type {
	case "chat.send":
		return chat.Send{Text: a.Text, ReplyTo: a.ReplyTo, Sent: sent}, true
	case "chat.edit":
		return chat.Edit{MessageID: a.MessageID, Text: a.Text}, true
	case "chat.delete":
		return chat.Delete{MessageID: a.MessageID}, true
	case "chat.react":
		return chat.React{MessageID: a.MessageID, Emoji: a.Emoji}, true
	case "chat.typing":
		return chat.Typing{}, true
	case "websocket.accept":
		return websocket.Accept{Subprotocol: a.Subprotocol}, true
	case "websocket.send":
		return websocket.Send{Text: a.Text, Bytes: a.Bytes}, true
	case "websocket.close":
		return websocket.Close{Code: a.Code, Reason: a.Reason}, true
	}
	return nil, false
}

func (a *action) ttl() time.Duration { return time.Duration(a.TTL * float64(time.Second)) }
