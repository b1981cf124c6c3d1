package consumers_test

import (
	"strings"
	"testing"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core/websocket"
	"github.com/hubhq/hub/hubtest"
)

type ping struct {
	N     int  `json:"n"`
	Panic bool `json:"panic"`
}

// pinger answers {"n": n} with {"n": n+1}, and panics when asked to.
type pinger struct{}

func (pinger) ReceiveJSON(c *consumers.WebSocketConn, p ping) error {
	if p.Panic {
		panic("asked to")
	}
	return c.SendJSON(ping{N: p.N + 1})
}

func newPinger() consumers.JSONHandler[ping] { return pinger{} }

func TestJSONRoundTrip(t *testing.T) {
	c := hubtest.WebSocket(t, consumers.NewJSONWebSocket(newPinger), "/ws/")
	c.Connect()
	c.SendJSON(ping{N: 41})
	var got ping
	c.ReceiveJSON(&got)
	if got.N != 42 {
		t.Fatalf("got %+v", got)
	}
}

func TestJSONRefusesBadFrames(t *testing.T) {
	tests := []struct {
		name   string
		send   func(c *hubtest.WebSocketCommunicator)
		code   int
		reason string
		count  func(consumers.Stats) int64
	}{
		{"binary", func(c *hubtest.WebSocketCommunicator) { c.SendBytes([]byte("{}")) },
			websocket.CloseUnsupported, "binary frames are not supported", func(s consumers.Stats) int64 { return s.Unsupported }},
		{"syntax", func(c *hubtest.WebSocketCommunicator) { c.SendText("{nope") },
			websocket.CloseInvalidData, "invalid JSON: ", func(s consumers.Stats) int64 { return s.InvalidJSON }},
		{"wrong type", func(c *hubtest.WebSocketCommunicator) { c.SendText(`{"n": "one"}`) },
			websocket.CloseInvalidData, "invalid JSON: ", func(s consumers.Stats) int64 { return s.InvalidJSON }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := hubtest.NewHub(t)
			app := consumers.NewJSONWebSocket(newPinger)
			bad, good := hub.WebSocket(app, "/ws/"), hub.WebSocket(app, "/ws/")
			bad.Connect()
			good.Connect()
			before := tt.count(consumers.ReadStats())
			tt.send(bad)
			if reason := bad.ExpectClose(tt.code); !strings.HasPrefix(reason, tt.reason) {
				t.Fatalf("reason %q, want prefix %q", reason, tt.reason)
			}
			if err := bad.Wait(); err != nil {
				t.Fatalf("refusing a frame is not an app error: %v", err)
			}
			if got := tt.count(consumers.ReadStats()) - before; got != 1 {
				t.Fatalf("counter grew by %d, want 1", got)
			}
			good.SendJSON(ping{N: 1}) // the app serves other sockets still
			var got ping
			good.ReceiveJSON(&got)
			if got.N != 2 {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestJSONPanicEndsOnlyThatScope(t *testing.T) {
	hub := hubtest.NewHub(t)
	app := consumers.NewJSONWebSocket(newPinger)
	doomed, other := hub.WebSocket(app, "/ws/"), hub.WebSocket(app, "/ws/")
	doomed.Connect()
	other.Connect()
	doomed.SendJSON(ping{Panic: true})
	doomed.ExpectClose(websocket.CloseInternalError)
	if err := doomed.Wait(); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("scope ended with %v, want the panic", err)
	}
	if got := hub.Metrics.Panics.Load(); got != 1 {
		t.Fatalf("Panics = %d", got)
	}
	other.SendJSON(ping{N: 9})
	var got ping
	other.ReceiveJSON(&got)
	if got.N != 10 {
		t.Fatalf("got %+v", got)
	}
}
