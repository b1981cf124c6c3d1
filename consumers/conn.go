package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/websocket"
)

// ErrNotAccepted is returned by the Send methods before the socket was
// accepted: a client cannot receive frames during the handshake.
var ErrNotAccepted = errors.New("consumers: send before accept")

// maxReasonBytes is RFC 6455's limit on a close reason: a control frame
// carries at most 125 bytes, two of which are the code.
const maxReasonBytes = 123

// WebSocketConn is one socket as its handler sees it: the scope, the
// conversation's state, and the actions a consumer may take. It belongs to
// the scope's instance goroutine; call its methods from the handler's
// methods (or On functions), not from goroutines of your own.
type WebSocketConn struct {
	// Scope is the connection: path, route params, headers, user, channel name.
	Scope *core.Scope
	// State is the conversation's persistent state (Scope.State).
	State *core.State

	ctx  context.Context
	send core.SendFunc
	h    any         // the author's handler, asked for optional interfaces
	recv receiveFunc // h's Receive, or JSON decoding in front of it
	// The first On is kept in two fields and a map is made only for a
	// second type: most consumers handle one, and an idle socket should
	// not carry a map.
	onType   string
	onFn     func(layer.Message) error
	more     map[string]func(layer.Message) error
	accepted bool
	closed   bool
}

func newConn(ctx context.Context, scope *core.Scope, send core.SendFunc, h any, recv receiveFunc) *WebSocketConn {
	return &WebSocketConn{Scope: scope, State: scope.State, ctx: ctx, send: send, h: h, recv: recv}
}

// Context is cancelled when the scope ends; pass it to anything slow a
// handler calls so a closed socket stops the work.
func (c *WebSocketConn) Context() context.Context { return c.ctx }

// Accept completes the handshake, choosing one of the client's subprotocols
// ("" for none). Accepting twice is a no-op.
func (c *WebSocketConn) Accept(subprotocol string) error {
	if c.accepted || c.closed {
		return nil
	}
	if err := c.send(c.ctx, websocket.Accept{Subprotocol: subprotocol}); err != nil {
		return fmt.Errorf("consumers: accept: %w", err)
	}
	c.accepted = true
	return nil
}

// SendText sends a text frame.
func (c *WebSocketConn) SendText(s string) error {
	return c.sendFrame(websocket.Send{Text: s})
}

// SendBytes sends a binary frame. A nil b is sent as an empty binary frame.
func (c *WebSocketConn) SendBytes(b []byte) error {
	if b == nil {
		b = []byte{}
	}
	return c.sendFrame(websocket.Send{Bytes: b})
}

// SendJSON encodes v as JSON and sends it as a text frame.
func (c *WebSocketConn) SendJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("consumers: encode JSON: %w", err)
	}
	return c.sendFrame(websocket.Send{Text: string(b)})
}

// sendFrame sends one frame. Frames after Close are dropped without error:
// the socket is going away and a late chat message is no reason to fail
// the scope.
func (c *WebSocketConn) sendFrame(ev websocket.Send) error {
	switch {
	case c.closed:
		return nil
	case !c.accepted:
		return ErrNotAccepted
	}
	if err := c.send(c.ctx, ev); err != nil {
		return fmt.Errorf("consumers: send: %w", err)
	}
	return nil
}

// Close closes the socket with a code and reason (cut to the 123 bytes a
// close frame holds). Before Accept it denies the handshake: the client
// gets HTTP 403. The scope goes on until the adapter's Disconnect arrives,
// so Disconnect hooks still run; frames received meanwhile are dropped.
func (c *WebSocketConn) Close(code int, reason string) error {
	if c.closed {
		return nil
	}
	c.closed = true
	if err := c.send(c.ctx, websocket.Close{Code: code, Reason: truncateReason(reason)}); err != nil {
		return fmt.Errorf("consumers: close: %w", err)
	}
	return nil
}

// truncateReason cuts s to maxReasonBytes without splitting a UTF-8 rune.
func truncateReason(s string) string {
	if len(s) <= maxReasonBytes {
		return s
	}
	s = s[:maxReasonBytes]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// GroupAdd adds this socket to a channel-layer group; the runtime leaves it
// when the scope ends, however it ends.
func (c *WebSocketConn) GroupAdd(group string) error {
	return c.Scope.GroupAdd(c.ctx, group)
}

// GroupDiscard removes this socket from a group.
func (c *WebSocketConn) GroupDiscard(group string) error {
	if err := c.Scope.GroupDiscard(c.ctx, group); err != nil {
		return fmt.Errorf("consumers: leave group %s: %w", group, err)
	}
	return nil
}

// GroupSend sends a layer message to every member of a group, this socket
// included if it is one.
func (c *WebSocketConn) GroupSend(group string, msg layer.Message) error {
	if err := c.Scope.GroupSend(c.ctx, group, msg); err != nil {
		return fmt.Errorf("consumers: send to group %s: %w", group, err)
	}
	return nil
}

// SendTo sends a layer message to one channel: another instance (its
// Scope.Channel) or a worker.
func (c *WebSocketConn) SendTo(channel string, msg layer.Message) error {
	if err := c.Scope.SendTo(c.ctx, channel, msg); err != nil {
		return fmt.Errorf("consumers: send to channel %s: %w", channel, err)
	}
	return nil
}

// On registers fn for channel-layer messages whose "type" is msgType
// (Channels calls the method chat_message for "chat.message"). A later On
// for the same type replaces the earlier one. Register in Connect, before
// messages can arrive.
func (c *WebSocketConn) On(msgType string, fn func(msg layer.Message) error) {
	switch {
	case c.onFn == nil || c.onType == msgType:
		c.onType, c.onFn = msgType, fn
	default:
		if c.more == nil {
			c.more = make(map[string]func(layer.Message) error, 1)
		}
		c.more[msgType] = fn
	}
}

// handler returns the function registered for a message type, or nil.
func (c *WebSocketConn) handler(msgType string) func(layer.Message) error {
	if c.onFn != nil && c.onType == msgType {
		return c.onFn
	}
	return c.more[msgType]
}
