package consumers_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/websocket"
	"github.com/hubhq/hub/hubtest"
)

// echo is the smallest handler: no optional interfaces.
type echo struct{}

func (echo) Receive(c *consumers.WebSocketConn, m websocket.Receive) error {
	if m.IsBinary() {
		return c.SendBytes(m.Bytes)
	}
	return c.SendText("You said: " + m.Text)
}

func TestAcceptsWithoutConnector(t *testing.T) {
	c := hubtest.WebSocket(t, consumers.NewWebSocket(func() consumers.WebSocketHandler { return echo{} }), "/ws/echo/")
	c.Connect()
	c.SendText("hi")
	if got := c.ReceiveText(); got != "You said: hi" {
		t.Fatalf("got %q", got)
	}
	c.SendBytes([]byte{1, 2})
	if got := c.ReceiveBytes(); string(got) != "\x01\x02" {
		t.Fatalf("got % x", got)
	}
	c.Disconnect(websocket.CloseNormal)
}

// gate accepts with a subprotocol when the client offers it, else denies.
type gate struct {
	echo
	disconnected *int
}

func (g gate) Connect(c *consumers.WebSocketConn) error {
	for _, p := range c.Scope.Subprotocols {
		if p == "chat.v1" {
			return c.Accept(p)
		}
	}
	return c.Close(4003, "no supported subprotocol")
}

func (g gate) Disconnect(c *consumers.WebSocketConn, code int) error {
	*g.disconnected = code
	return nil
}

func TestConnector(t *testing.T) {
	tests := []struct {
		name   string
		offer  []string
		accept bool
	}{
		{"offered", []string{"other", "chat.v1"}, true},
		{"not offered", []string{"other"}, false},
		{"none", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := 0
			app := consumers.NewWebSocket(func() consumers.WebSocketHandler { return gate{disconnected: &code} })
			c := hubtest.WebSocket(t, app, "/ws/", hubtest.Subprotocols(tt.offer...))
			if !tt.accept {
				if got := c.ConnectDenied(); got != 4003 {
					t.Fatalf("denied with %d, want 4003", got)
				}
				if err := c.Wait(); err != nil {
					t.Fatalf("app ended with %v", err)
				}
				return
			}
			if _, sub := c.Connect(); sub != "chat.v1" {
				t.Fatalf("subprotocol %q", sub)
			}
			c.Disconnect(4321)
			if code != 4321 {
				t.Fatalf("Disconnect got code %d", code)
			}
		})
	}
}

// roomie belongs to a fixed group and relays group messages to its client.
type roomie struct{ echo }

func (roomie) Groups() []string { return []string{"everyone"} }

func (roomie) Connect(c *consumers.WebSocketConn) error {
	c.On("note", func(m layer.Message) error { return c.SendText(m["text"].(string)) })
	return c.Accept("")
}

func (roomie) Receive(c *consumers.WebSocketConn, m websocket.Receive) error {
	return c.GroupSend("everyone", layer.Message{"type": "note", "text": m.Text})
}

func TestGroupsAndOn(t *testing.T) {
	mem := layer.NewMemory(layer.Options{})
	hub := hubtest.NewHub(t, hubtest.Layer(mem))
	app := consumers.NewWebSocket(func() consumers.WebSocketHandler { return roomie{} })
	a, b := hub.WebSocket(app, "/a/"), hub.WebSocket(app, "/b/")
	a.Connect()
	b.Connect()
	a.SendText("hello")
	for _, c := range []*hubtest.WebSocketCommunicator{a, b} {
		if got := c.ReceiveText(); got != "hello" {
			t.Fatalf("got %q", got)
		}
	}
	if _, groups := mem.Size(); groups != 1 {
		t.Fatalf("%d groups, want 1", groups)
	}
	a.Disconnect(1000)
	b.Disconnect(1000)
	if _, groups := mem.Size(); groups != 0 {
		t.Fatalf("%d groups left after both disconnected", groups)
	}
}

func TestUnknownLayerMessageIsCountedNotFatal(t *testing.T) {
	app := consumers.NewWebSocket(func() consumers.WebSocketHandler { return roomie{} })
	c := hubtest.WebSocket(t, app, "/ws/")
	c.Connect()
	before := consumers.ReadStats().Unhandled
	if err := c.Scope().SendTo(t.Context(), c.Scope().Channel, layer.Message{"type": "mystery"}); err != nil {
		t.Fatal(err)
	}
	// A known message after the unknown one proves the loop went on.
	if err := c.Scope().SendTo(t.Context(), c.Scope().Channel, layer.Message{"type": "note", "text": "still here"}); err != nil {
		t.Fatal(err)
	}
	if got := c.ReceiveText(); got != "still here" {
		t.Fatalf("got %q", got)
	}
	if got := consumers.ReadStats().Unhandled - before; got != 1 {
		t.Fatalf("Unhandled grew by %d, want 1", got)
	}
}

func TestHandlerErrorEndsScopeWith1011(t *testing.T) {
	failing := consumers.WebSocketFunc(func(c *consumers.WebSocketConn, m websocket.Receive) error {
		return errors.New("boom")
	})
	c := hubtest.WebSocket(t, consumers.NewWebSocket(func() consumers.WebSocketHandler { return failing }), "/ws/")
	c.Connect()
	c.SendText("x")
	c.ExpectClose(websocket.CloseInternalError)
	if err := c.Wait(); err == nil || !strings.Contains(err.Error(), "websocket.receive: boom") {
		t.Fatalf("scope ended with %v", err)
	}
}

// early sends before accepting: a programming error the conn reports.
type early struct{ echo }

func (early) Connect(c *consumers.WebSocketConn) error {
	if err := c.SendText("too soon"); !errors.Is(err, consumers.ErrNotAccepted) {
		return errors.New("SendText before Accept did not fail")
	}
	if err := c.Accept(""); err != nil {
		return err
	}
	return c.Accept("") // twice is harmless
}

func TestSendBeforeAccept(t *testing.T) {
	c := hubtest.WebSocket(t, consumers.NewWebSocket(func() consumers.WebSocketHandler { return early{} }), "/ws/")
	c.Connect()
	c.ExpectNothing()
}

// closer closes with a long reason, then tries to keep talking.
type closer struct{}

func (closer) Receive(c *consumers.WebSocketConn, m websocket.Receive) error {
	if err := c.Close(4000, strings.Repeat("é", 100)); err != nil {
		return err
	}
	return c.SendText("after close") // dropped, not an error
}

func TestCloseReasonIsCutAndLaterSendsDropped(t *testing.T) {
	c := hubtest.WebSocket(t, consumers.NewWebSocket(func() consumers.WebSocketHandler { return closer{} }), "/ws/")
	c.Connect()
	c.SendText("bye")
	reason := c.ExpectClose(4000)
	if len(reason) > 123 || !strings.HasPrefix(reason, "éé") || strings.ContainsRune(reason, '\uFFFD') {
		t.Fatalf("reason %q (%d bytes)", reason, len(reason))
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("app ended with %v", err)
	}
	c.ExpectNothing()
}
