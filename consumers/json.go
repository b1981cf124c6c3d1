package consumers

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/websocket"
)

// JSONHandler is a WebSocketHandler that speaks JSON: each text frame
// arrives decoded into T. It may implement Connector, Disconnector and
// Grouper as well.
type JSONHandler[T any] interface {
	ReceiveJSON(c *WebSocketConn, msg T) error
}

// NewJSONWebSocket returns the application that runs a fresh handler from
// newHandler for every socket (Channels' JsonWebsocketConsumer). A frame it
// cannot decode closes that socket — 1003 for a binary frame, 1007 "invalid
// JSON: …" for a text frame that is not a T — and is logged and counted in
// ReadStats; other sockets are untouched.
func NewJSONWebSocket[T any](newHandler func() JSONHandler[T]) core.Application {
	return &app{newConn: func(ctx context.Context, scope *core.Scope, send core.SendFunc) *WebSocketConn {
		h := newHandler()
		return newConn(ctx, scope, send, h, func(c *WebSocketConn, msg websocket.Receive) error {
			return receiveJSON(c, h, msg)
		})
	}}
}

func receiveJSON[T any](c *WebSocketConn, h JSONHandler[T], msg websocket.Receive) error {
	if msg.IsBinary() {
		unsupported.Add(1)
		slog.Warn("binary frame to a JSON consumer; closing", "scope", c.Scope.Key, "bytes", len(msg.Bytes))
		return c.Close(websocket.CloseUnsupported, "binary frames are not supported; send JSON text")
	}
	var v T
	if err := json.Unmarshal([]byte(msg.Text), &v); err != nil {
		invalidJSON.Add(1)
		slog.Warn("invalid JSON frame; closing", "scope", c.Scope.Key, "err", err)
		return c.Close(websocket.CloseInvalidData, "invalid JSON: "+err.Error())
	}
	return h.ReceiveJSON(c, v)
}
