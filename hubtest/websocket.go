package hubtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/websocket"
)

// WebSocketCommunicator is one client socket driving an application (Channels'
// WebsocketCommunicator). Its methods are for the test goroutine; the ones
// without an error result fail the test with a clear message.
type WebSocketCommunicator struct {
	t       testing.TB
	hub     *Hub
	path    string
	scope   *core.Scope
	inst    *core.Instance
	timeout time.Duration
	ctx     context.Context // ends when the communicator is cleaned up
	cancel  context.CancelFunc
	started chan struct{} // closed once inst is set

	mu          sync.Mutex
	out         []core.Event  // actions the application sent, not yet read
	notify      chan struct{} // signalled (capacity 1) when out grows or the scope ends
	connected   bool          // Connect was sent
	accepted    bool          // the application accepted
	closed      bool          // a close happened, from either side
	ended       bool          // the application returned
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
	t := h.t
	t.Helper()
	o := apply(h.opts, opts)
	u, err := url.Parse(path)
	if err != nil || u.Path == "" || u.Path[0] != '/' {
		t.Fatalf("hubtest: path %q must be an absolute path", path)
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
	for _, edit := range o.edit {
		edit(scope)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &WebSocketCommunicator{t: t, hub: h, path: u.Path, scope: scope, timeout: o.timeout,
		ctx: ctx, cancel: cancel, started: make(chan struct{}), notify: make(chan struct{}, 1)}
	inst, err := h.runtime(app, o).Start(ctx, scope, c.record)
	if err != nil {
		cancel()
		t.Fatalf("hubtest: start %s: %v", path, err)
	}
	c.inst = inst
	close(c.started)
	h.track(c, true)
	go c.watch()
	t.Cleanup(func() { c.stop(websocket.CloseNormal, false) })
	return c
}

// record is the application's SendFunc: it keeps every action for the test
// to read and, like an adapter, answers a Close with a Disconnect.
func (c *WebSocketCommunicator) record(ctx context.Context, ev core.Event) error {
	ev = deref(ev)
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return core.ErrScopeClosed
	}
	c.out = append(c.out, ev)
	if cl, ok := ev.(websocket.Close); ok && !c.closed {
		c.closed = true
		code := cl.Code
		if !c.accepted {
			code = websocket.CloseAbnormal // a denied socket never opened (Daphne's 1006)
		}
		go c.deliverDisconnect(code)
	}
	if _, ok := ev.(websocket.Accept); ok {
		c.accepted = true
	}
	c.mu.Unlock()
	c.signal()
	return nil
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

func (c *WebSocketCommunicator) deliverDisconnect(code int) {
	<-c.started
	_ = c.inst.Deliver(c.ctx, websocket.Disconnect{Code: code})
}

func (c *WebSocketCommunicator) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// watch waits for the application to return and then closes the socket as
// the adapter would, if the application did not close it itself.
func (c *WebSocketCommunicator) watch() {
	<-c.inst.Done()
	err := c.inst.Err()
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.out = append(c.out, adapterClose(err))
	}
	c.ended = true
	c.mu.Unlock()
	c.signal()
	c.hub.track(c, false)
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

// stop ends the scope if it is still running: the socket goes away with
// code — closed by the hub when byHub (the client sees that close), else by
// the client — and the application is cancelled if it does not return in
// time.
func (c *WebSocketCommunicator) stop(code int, byHub bool) {
	select {
	case <-c.inst.Done():
	default:
		c.mu.Lock()
		wasClosed := c.closed
		c.closed = true
		if !wasClosed && byHub {
			c.out = append(c.out, websocket.Close{Code: code, Reason: "hub stopping"})
		}
		c.mu.Unlock()
		c.signal()
		if !wasClosed {
			_ = c.deliver(websocket.Disconnect{Code: code})
		}
		c.inst.Stop(c.timeout)
	}
	c.cancel()
	<-c.inst.Done()
	c.hub.track(c, false)
}

// Scope is the socket's scope: its channel name, state, route params.
func (c *WebSocketCommunicator) Scope() *core.Scope { return c.scope }

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
		c.t.Fatalf("hubtest: %s: connect: %v", c.path, err)
	case !accepted:
		c.t.Fatalf("hubtest: %s: connect was denied (close code %d)", c.path, code)
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
		c.t.Fatalf("hubtest: %s: connect: %v", c.path, err)
	case accepted:
		c.t.Fatalf("hubtest: %s: connect was accepted; want it denied", c.path)
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
		c.t.Fatalf("hubtest: %s: encode JSON: %v", c.path, err)
	}
	c.mustDeliver(websocket.Receive{Text: string(b)})
}

func (c *WebSocketCommunicator) mustDeliver(ev core.Event) {
	c.t.Helper()
	if err := c.deliver(ev); err != nil {
		c.t.Fatalf("hubtest: %s: send %s: %v", c.path, ev.Type(), err)
	}
}

// deliver puts a client event in the application's inbox, waiting at most
// the timeout for room (the runtime's Block policy is backpressure).
func (c *WebSocketCommunicator) deliver(ev core.Event) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	err := c.inst.Deliver(ctx, ev)
	switch {
	case errors.Is(err, core.ErrInboxFull):
		return nil // the frame was sent; the hub closes the socket (1013)
	case errors.Is(err, core.ErrScopeClosed):
		return fmt.Errorf("the application has already returned (%v)", c.inst.Err())
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the inbox stayed full for %v", c.timeout)
	}
	return err
}

// ReceiveOutput waits up to timeout (0: the communicator's) for the next
// action the application sent: websocket.Accept, Send or Close.
func (c *WebSocketCommunicator) ReceiveOutput(timeout time.Duration) (core.Event, error) {
	if timeout <= 0 {
		timeout = c.timeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		if len(c.out) > 0 {
			ev := c.out[0]
			c.out[0] = nil
			c.out = c.out[1:]
			c.mu.Unlock()
			return ev, nil
		}
		ended := c.ended
		c.mu.Unlock()
		if ended {
			return nil, fmt.Errorf("hubtest: %s: the application has returned (%v) and sent nothing more", c.path, c.inst.Err())
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			return nil, fmt.Errorf("hubtest: %s: the application sent nothing within %v", c.path, timeout)
		}
	}
}

func (c *WebSocketCommunicator) mustReceive(want string) core.Event {
	c.t.Helper()
	ev, err := c.ReceiveOutput(0)
	if err != nil {
		c.t.Fatalf("%v; want %s", err, want)
	}
	return ev
}

// ReceiveText waits for a text frame and returns it.
func (c *WebSocketCommunicator) ReceiveText() string {
	c.t.Helper()
	ev := c.mustReceive("a text frame")
	if s, ok := ev.(websocket.Send); ok && s.Bytes == nil {
		return s.Text
	}
	c.t.Fatalf("hubtest: %s: want a text frame, got %s", c.path, describe(ev))
	return ""
}

// ReceiveBytes waits for a binary frame and returns it.
func (c *WebSocketCommunicator) ReceiveBytes() []byte {
	c.t.Helper()
	ev := c.mustReceive("a binary frame")
	if s, ok := ev.(websocket.Send); ok && s.Bytes != nil {
		return s.Bytes
	}
	c.t.Fatalf("hubtest: %s: want a binary frame, got %s", c.path, describe(ev))
	return nil
}

// ReceiveJSON waits for a text frame and decodes it into v.
func (c *WebSocketCommunicator) ReceiveJSON(v any) {
	c.t.Helper()
	text := c.ReceiveText()
	if err := json.Unmarshal([]byte(text), v); err != nil {
		c.t.Fatalf("hubtest: %s: text frame %q is not JSON for %T: %v", c.path, text, v, err)
	}
}

// ExpectNothing fails the test if the application sends anything within
// NothingWindow (50 ms); see the package doc for why a window is inherent.
func (c *WebSocketCommunicator) ExpectNothing() {
	c.t.Helper()
	if ev, err := c.ReceiveOutput(NothingWindow); err == nil {
		c.t.Fatalf("hubtest: %s: want nothing, got %s", c.path, describe(ev))
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
		c.t.Fatalf("hubtest: %s: want a close with code %d, got %s", c.path, code, describe(ev))
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
		c.t.Fatalf("hubtest: %s: disconnect: %v", c.path, err)
	}
	if _, err := c.wait(); err != nil {
		c.t.Fatalf("hubtest: %s: after disconnect: %v", c.path, err)
	}
}

// Wait waits for the application to return and gives its error: nil for a
// normal end, else the error or panic that ended the scope.
func (c *WebSocketCommunicator) Wait() error {
	c.t.Helper()
	appErr, err := c.wait()
	if err != nil {
		c.t.Fatalf("hubtest: %s: %v", c.path, err)
	}
	return appErr
}

func (c *WebSocketCommunicator) wait() (appErr, err error) {
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case <-c.inst.Done():
		return c.inst.Err(), nil
	case <-t.C:
		return nil, fmt.Errorf("the application did not return within %v", c.timeout)
	}
}

func (c *WebSocketCommunicator) isDone() bool {
	select {
	case <-c.inst.Done():
		return true
	default:
		return false
	}
}

// describe renders an event for a failure message.
func describe(ev core.Event) string {
	switch ev := ev.(type) {
	case websocket.Accept:
		return fmt.Sprintf("websocket.accept (subprotocol %q)", ev.Subprotocol)
	case websocket.Send:
		if ev.Bytes != nil {
			return fmt.Sprintf("a binary frame (% x)", ev.Bytes)
		}
		return fmt.Sprintf("a text frame %q", ev.Text)
	case websocket.Close:
		return fmt.Sprintf("websocket.close (code %d, reason %q)", ev.Code, ev.Reason)
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%s %+v", ev.Type(), ev)
}
