package hubtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/websocket"
)

// WebSocketCommunicator is one client socket driving an application (Channels'
// WebsocketCommunicator). Its methods are for the test goroutine; the ones
// without an error result fail the test with a clear message.
type WebSocketCommunicator struct {
	*session

	// guarded by session.mu
	connected   bool // Connect was sent
	accepted    bool // the application accepted
	closed      bool // a close happened, from either side
	subprotocol string
}

// WebSocket starts app for one socket at path (which may carry a ?query),
// with a Hub of its own. Use Hub.WebSocket for clients that must share a
// layer and store.
func WebSocket(t testing.TB, app core.Application, path string, opts ...Option) *WebSocketCommunicator {
	t.Helper()
	return NewHub(t, opts...).WebSocket(app, path)
}

// WebSocket starts app for one socket at path on this hub. Options given
// here apply to this communicator only.
func (h *Hub) WebSocket(app core.Application, path string, opts ...Option) *WebSocketCommunicator {
	h.t.Helper()
	o := apply(h.opts, opts)
	u, err := url.Parse(path)
	if err != nil || u.Path == "" || u.Path[0] != '/' {
		h.t.Fatalf("hubtest: path %q must be an absolute path", path)
	}
	key, client := h.nextKey("websocket")
	headers := o.headers.Clone()
	if headers == nil {
		headers = make(map[string][]string)
	}
	if headers.Get("Host") == "" {
		headers.Set("Host", "testserver")
	}
	scope := &core.Scope{Type: "websocket", Key: key, Path: u.Path, RawQuery: u.RawQuery,
		Headers: headers, Client: client, Subprotocols: o.subprotocols}
	c := &WebSocketCommunicator{session: newSession(h, o, scope, u.Path)}
	c.onAction, c.onEnd, c.farewell = c.action, c.end, c.goodbye
	c.start(app, o)
	return c
}

// action records what the application sent and, like an adapter, answers a
// Close with a Disconnect: with the same code once the socket was open, or
// 1006 for a denied handshake (Daphne's code for a socket that never opened).
func (c *WebSocketCommunicator) action(ev core.Event) core.Event {
	ev = deref(ev)
	switch ev := ev.(type) {
	case websocket.Accept:
		c.accepted = true
	case websocket.Close:
		if !c.closed {
			c.closed = true
			code := ev.Code
			if !c.accepted {
				code = websocket.CloseAbnormal
			}
			c.deliverLater(websocket.Disconnect{Code: code})
		}
	}
	return ev
}

// deref turns pointers to websocket actions into values, so tests compare
// one form whichever an application sends.
func deref(ev core.Event) core.Event {
	switch e := ev.(type) {
	case *websocket.Accept:
		return *e
	case *websocket.Send:
		return *e
	case *websocket.Close:
		return *e
	}
	return ev
}

// end closes the socket as the adapter does when the application returns
// without closing it.
func (c *WebSocketCommunicator) end(err error) {
	if !c.closed {
		c.closed = true
		c.out = append(c.out, adapterClose(err))
	}
}

// adapterClose is the close the WebSocket adapter sends when an application
// returns without closing.
func adapterClose(err error) websocket.Close {
	switch {
	case err == nil:
		return websocket.Close{Code: websocket.CloseNormal}
	case errors.Is(err, core.ErrInboxFull):
		return websocket.Close{Code: websocket.CloseTryAgainLater, Reason: "inbox full"}
	default:
		return websocket.Close{Code: websocket.CloseInternalError, Reason: "internal error"}
	}
}

// goodbye is the Disconnect of a socket still open when the session stops:
// the hub closes it with 1001 (and the client sees that close), or the
// test is over and the client leaves with 1000.
func (c *WebSocketCommunicator) goodbye(byHub bool) core.Event {
	if c.closed {
		return nil
	}
	c.closed = true
	if byHub {
		c.out = append(c.out, websocket.Close{Code: websocket.CloseGoingAway, Reason: "hub stopping"})
		return websocket.Disconnect{Code: websocket.CloseGoingAway}
	}
	return websocket.Disconnect{Code: websocket.CloseNormal}
}

// Subprotocol is the subprotocol the application accepted with.
func (c *WebSocketCommunicator) Subprotocol() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subprotocol
}

// Connect performs the handshake and fails the test unless the application
// accepts. It returns true and the chosen subprotocol.
func (c *WebSocketCommunicator) Connect() (accepted bool, subprotocol string) {
	c.t.Helper()
	accepted, code, err := c.TryConnect()
	switch {
	case err != nil:
		c.t.Fatalf("hubtest: %s: connect: %v", c.label, err)
	case !accepted:
		c.t.Fatalf("hubtest: %s: connect was denied (close code %d)", c.label, code)
	}
	return true, c.Subprotocol()
}

// ConnectDenied performs the handshake and fails the test unless the
// application denies it; it returns the close code the application chose
// (the client sees HTTP 403).
func (c *WebSocketCommunicator) ConnectDenied() (code int) {
	c.t.Helper()
	accepted, code, err := c.TryConnect()
	switch {
	case err != nil:
		c.t.Fatalf("hubtest: %s: connect: %v", c.label, err)
	case accepted:
		c.t.Fatalf("hubtest: %s: connect was accepted; want it denied", c.label)
	}
	return code
}

// TryConnect performs the handshake without judging it: accepted, or the
// close code of a denial, or an error when the application answered with
// something else or nothing in time.
func (c *WebSocketCommunicator) TryConnect() (accepted bool, closeCode int, err error) {
	c.mu.Lock()
	again := c.connected
	c.connected = true
	c.mu.Unlock()
	if again {
		return false, 0, errors.New("already connected")
	}
	if err := c.deliver(websocket.Connect{}); err != nil {
		return false, 0, err
	}
	ev, err := c.ReceiveOutput(c.timeout)
	if err != nil {
		return false, 0, err
	}
	switch ev := ev.(type) {
	case websocket.Accept:
		c.mu.Lock()
		c.subprotocol = ev.Subprotocol
		c.mu.Unlock()
		return true, 0, nil
	case websocket.Close:
		return false, ev.Code, nil
	}
	return false, 0, fmt.Errorf("want websocket.accept or websocket.close, got %s", describe(ev))
}

// SendText sends a text frame to the application.
func (c *WebSocketCommunicator) SendText(s string) {
	c.t.Helper()
	c.mustDeliver(websocket.Receive{Text: s})
}

// SendBytes sends a binary frame to the application.
func (c *WebSocketCommunicator) SendBytes(b []byte) {
	c.t.Helper()
	if b == nil {
		b = []byte{}
	}
	c.mustDeliver(websocket.Receive{Bytes: b})
}

// SendJSON encodes v and sends it as a text frame.
func (c *WebSocketCommunicator) SendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("hubtest: %s: encode JSON: %v", c.label, err)
	}
	c.mustDeliver(websocket.Receive{Text: string(b)})
}

// ReceiveText waits for a text frame and returns it.
func (c *WebSocketCommunicator) ReceiveText() string {
	c.t.Helper()
	ev := c.mustReceive("a text frame")
	if s, ok := ev.(websocket.Send); ok && s.Bytes == nil {
		return s.Text
	}
	c.t.Fatalf("hubtest: %s: want a text frame, got %s", c.label, describe(ev))
	return ""
}

// ReceiveBytes waits for a binary frame and returns it.
func (c *WebSocketCommunicator) ReceiveBytes() []byte {
	c.t.Helper()
	ev := c.mustReceive("a binary frame")
	if s, ok := ev.(websocket.Send); ok && s.Bytes != nil {
		return s.Bytes
	}
	c.t.Fatalf("hubtest: %s: want a binary frame, got %s", c.label, describe(ev))
	return nil
}

// ReceiveJSON waits for a text frame and decodes it into v.
func (c *WebSocketCommunicator) ReceiveJSON(v any) {
	c.t.Helper()
	text := c.ReceiveText()
	if err := json.Unmarshal([]byte(text), v); err != nil {
		c.t.Fatalf("hubtest: %s: text frame %q is not JSON for %T: %v", c.label, text, v, err)
	}
}

// ExpectClose waits for the socket to close with code and returns the
// close reason. A close the adapter makes for a returning application
// counts too (1011 after an error or panic).
func (c *WebSocketCommunicator) ExpectClose(code int) (reason string) {
	c.t.Helper()
	ev := c.mustReceive(fmt.Sprintf("a close with code %d", code))
	cl, ok := ev.(websocket.Close)
	if !ok || cl.Code != code {
		c.t.Fatalf("hubtest: %s: want a close with code %d, got %s", c.label, code, describe(ev))
	}
	return cl.Reason
}

// Disconnect closes the socket from the client's side with code and waits
// for the application to return.
func (c *WebSocketCommunicator) Disconnect(code int) {
	c.t.Helper()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	if err := c.deliver(websocket.Disconnect{Code: code}); err != nil && !c.isDone() {
		c.t.Fatalf("hubtest: %s: disconnect: %v", c.label, err)
	}
	if _, err := c.wait(); err != nil {
		c.t.Fatalf("hubtest: %s: after disconnect: %v", c.label, err)
	}
}
