package consumers

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/websocket"
)

// WebSocketHandler is what a plugin author writes: one value per socket,
// whose methods the consumer calls one at a time.
type WebSocketHandler interface {
	// Receive handles one frame from the client. An error ends the scope;
	// the adapter then closes the socket with 1011.
	Receive(c *WebSocketConn, msg websocket.Receive) error
}

// WebSocketFunc lets a function be a WebSocketHandler, for consumers that
// keep nothing per socket:
//
//	consumers.NewWebSocket(func() consumers.WebSocketHandler { return consumers.WebSocketFunc(echo) })
type WebSocketFunc func(c *WebSocketConn, msg websocket.Receive) error

// Receive calls f.
func (f WebSocketFunc) Receive(c *WebSocketConn, msg websocket.Receive) error { return f(c, msg) }

// Connector is implemented by handlers that decide on the handshake
// themselves: call c.Accept or c.Close. Without it the socket is accepted.
type Connector interface {
	Connect(c *WebSocketConn) error
}

// Disconnector is implemented by handlers that want to know when the socket
// is gone; code is the close code (1006 for a dropped connection).
type Disconnector interface {
	Disconnect(c *WebSocketConn, code int) error
}

// Grouper is implemented by handlers that belong to fixed groups (Channels'
// groups attribute): they are joined before Connect and left by the runtime
// when the scope ends.
type Grouper interface {
	Groups() []string
}

// NewWebSocket returns the application that runs a fresh handler from
// newHandler for every socket (Channels' WebsocketConsumer).
func NewWebSocket(newHandler func() WebSocketHandler) core.Application {
	return &app{newConn: func(ctx context.Context, scope *core.Scope, send core.SendFunc) *WebSocketConn {
		h := newHandler()
		return newConn(ctx, scope, send, h, h.Receive)
	}}
}

// app is the Application of every generic WebSocket consumer; newConn makes
// a socket's handler and conn. It is a plain (not generic) type with a
// pointer receiver rather than a core.AppFunc closure, for the fewest stack
// frames under every idle socket (see WebSocketConn.serve).
type app struct {
	newConn func(ctx context.Context, scope *core.Scope, send core.SendFunc) *WebSocketConn
}

func (a *app) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	return a.newConn(ctx, scope, send).serve(inbox)
}

// receiveFunc handles one client frame; the JSON consumer puts its decoding
// in front of the author's method.
type receiveFunc func(c *WebSocketConn, msg websocket.Receive) error

// serve is the consumer's one sequential loop over the scope's inbox, which
// holds client events and layer messages alike.
//
// An idle socket's goroutine waits here, and the runtime shrinks its stack
// back to the minimum only if what sits below the wait is small (under a
// quarter of the stack). So the loop keeps its frame lean — what it needs
// lives in the heap-allocated conn — and does the work in handle, whose
// frames are gone while it waits.
func (c *WebSocketConn) serve(inbox core.Inbox) error {
	for {
		ev, err := inbox.Next(c.ctx)
		if err != nil {
			return err
		}
		if done, err := c.handle(ev); err != nil || done {
			return wrapEventErr(ev, err)
		}
	}
}

func wrapEventErr(ev core.Event, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", ev.Type(), err)
}

// handle dispatches one event; done is true after the disconnect.
func (c *WebSocketConn) handle(ev core.Event) (done bool, err error) {
	switch ev := ev.(type) {
	case websocket.Connect, *websocket.Connect:
		return false, c.connect()
	case websocket.Receive:
		return false, c.receive(ev)
	case *websocket.Receive:
		return false, c.receive(*ev)
	case websocket.Disconnect:
		return true, c.disconnect(ev.Code)
	case *websocket.Disconnect:
		return true, c.disconnect(ev.Code)
	case layer.Message:
		return false, c.message(ev)
	default:
		slog.Warn("consumer got an unexpected event; ignored", "scope", c.Scope.Key, "type", ev.Type())
		return false, nil
	}
}

func (c *WebSocketConn) connect() error {
	h := c.h
	if g, ok := h.(Grouper); ok {
		for _, group := range g.Groups() {
			if err := c.GroupAdd(group); err != nil {
				return err
			}
		}
	}
	if conn, ok := h.(Connector); ok {
		return conn.Connect(c)
	}
	return c.Accept("")
}

func (c *WebSocketConn) receive(msg websocket.Receive) error {
	if c.closed {
		return nil // the close handshake is under way: late frames are moot
	}
	return c.recv(c, msg)
}

func (c *WebSocketConn) disconnect(code int) error {
	c.closed = true
	if d, ok := c.h.(Disconnector); ok {
		return d.Disconnect(c, code)
	}
	return nil
}

// message hands a layer message to the function registered with On. A type
// nobody registered is a sender's mistake, not this socket's: it is logged
// and counted, and the socket goes on.
func (c *WebSocketConn) message(msg layer.Message) error {
	if fn := c.handler(msg.Type()); fn != nil {
		return fn(msg)
	}
	unhandled.Add(1)
	slog.Warn(fmt.Sprintf("no handler for layer message type %q", msg.Type()), "scope", c.Scope.Key)
	return nil
}

// Process-wide counters behind ReadStats.
var unhandled, unsupported, invalidJSON atomic.Int64

// Stats counts, for the whole process, what the generic consumers refused;
// the hub's /metrics endpoint reads it.
type Stats struct {
	Unhandled   int64 // layer messages with no On handler for their type
	Unsupported int64 // binary frames sent to a JSON consumer (closed 1003)
	InvalidJSON int64 // text frames a JSON consumer could not decode (closed 1007)
}

// ReadStats returns the counters since the process started.
func ReadStats() Stats {
	return Stats{Unhandled: unhandled.Load(), Unsupported: unsupported.Load(), InvalidJSON: invalidJSON.Load()}
}
