package bench

import (
	"sync/atomic"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core/websocket"
	"github.com/hubhq/hub/plugins"
)

// Plugin names, for the config the load generator serves.
const (
	EchoPlugin  = "bench-echo"
	ProbePlugin = "bench-probe"
)

func init() {
	plugins.Register(EchoPlugin, consumers.NewWebSocket(func() consumers.WebSocketHandler { return echo{} }))
	plugins.Register(ProbePlugin, consumers.NewWebSocket(func() consumers.WebSocketHandler { return probe{} }))
}

// echo sends every frame back as it came: the smallest consumer, so the
// echo benchmark measures the hub's path, not a plugin's work.
type echo struct{}

func (echo) Receive(c *consumers.WebSocketConn, m websocket.Receive) error {
	if m.IsBinary() {
		return c.SendBytes(m.Bytes)
	}
	return c.SendText(m.Text)
}

// Sizer is what the in-memory layer (layer.Memory) reports about itself.
type Sizer interface {
	Size() (channels, groups int)
}

var layerSeen atomic.Value // Sizer

// LayerSize reports how many channels and groups the channel layer of the
// hub in this process holds; ok is false until a socket has been opened at
// a bench-probe route, or if the layer cannot tell.
func LayerSize() (channels, groups int, ok bool) {
	s, ok := layerSeen.Load().(Sizer)
	if !ok {
		return 0, 0, false
	}
	channels, groups = s.Size()
	return channels, groups, true
}

// probe notes the scope's layer and refuses the socket (HTTP 403): the
// server's layer is private, but every scope carries it.
type probe struct{}

func (probe) Connect(c *consumers.WebSocketConn) error {
	if s, ok := c.Scope.Layer.(Sizer); ok {
		layerSeen.Store(s)
	}
	return c.Close(websocket.CloseNormal, "probe")
}

func (probe) Receive(*consumers.WebSocketConn, websocket.Receive) error { return nil }
