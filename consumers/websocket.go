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
	return core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		h := newHandler()
		return serve(ctx, scope, inbox, send, h, h.Receive)
	})
}

// receiveFunc handles one client frame; the JSON consumer puts its decoding
// in front of the author's method.
type receiveFunc func(c *WebSocketConn, msg websocket.Receive) error

// serve is the consumer's one sequential loop over the scope's inbox, which
// holds client events and layer messages alike. h is the author's value,
// asked for the optional interfaces.
func serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc, h any, receive receiveFunc) error {
	c := newConn(ctx, scope, send)
	for {
		ev, err := inbox.Next(ctx)
		if err != nil {
			return err
		}
		done, err := c.handle(ev, h, receive)
		if err != nil {
			return fmt.Errorf("%s: %w", ev.Type(), err)
		}
		if done {
			return nil
		}
	}
}

// handle dispatches one event; done is true after the disconnect.
func (c *WebSocketConn) handle(ev core.Event, h any, receive receiveFunc) (done bool, err error) {
	switch ev := ev.(type) {
	case websocket.Connect, *websocket.Connect:
		return false, c.connect(h)
	case websocket.Receive:
		return false, c.receive(ev, receive)
	case *websocket.Receive:
		return false, c.receive(*ev, receive)
	case websocket.Disconnect:
		return true, c.disconnect(h, ev.Code)
	case *websocket.Disconnect:
		return true, c.disconnect(h, ev.Code)
	case layer.Message:
		return false, c.message(ev)
	default:
		slog.Warn("consumer got an unexpected event; ignored", "scope", c.Scope.Key, "type", ev.Type())
		return false, nil
	}
}

func (c *WebSocketConn) connect(h any) error {
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

func (c *WebSocketConn) receive(msg websocket.Receive, receive receiveFunc) error {
	if c.closed {
		return nil // the close handshake is under way: late frames are moot
	}
	return receive(c, msg)
}

func (c *WebSocketConn) disconnect(h any, code int) error {
	c.closed = true
	if d, ok := h.(Disconnector); ok {
		return d.Disconnect(c, code)
	}
	return nil
}

// message hands a layer message to the function registered with On. A type
// nobody registered is a sender's mistake, not this socket's: it is logged
// and counted, and the socket goes on.
func (c *WebSocketConn) message(msg layer.Message) error {
	if fn, ok := c.handlers[msg.Type()]; ok {
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
