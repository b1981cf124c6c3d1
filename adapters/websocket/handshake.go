package websocket

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/hubhq/hub/core"
	ws "github.com/hubhq/hub/core/websocket"
)

// handshake is how the application's first action reaches ServeHTTP, which
// waits for it with the HTTP request still in hand. It is dropped once the
// handshake is decided.
type handshake struct {
	actions chan hsAction // ws.Accept, ws.Close or appEnded
	over    chan struct{} // closed when ServeHTTP stops waiting
}

type hsAction struct {
	ev    core.Event
	reply chan error // Accept only: the upgrade's outcome
}

func newHandshake() *handshake {
	return &handshake{actions: make(chan hsAction), over: make(chan struct{})}
}

var errHandshakeOver = errors.New("websocket: handshake already refused or timed out")

// handshake delivers Connect and serves the application's answer. It reports
// whether the socket is open; if not, the client has had its HTTP error and
// the instance has been stopped.
func (c *conn) handshake(w http.ResponseWriter, r *http.Request) bool {
	a, hs := c.a, c.hs
	// Connect cannot find a full inbox; if the application has already
	// ended, its appEnded action is on the way.
	_ = c.inst.Deliver(a.ctx, ws.Connect{})
	timer := time.NewTimer(a.opts.HandshakeTimeout)
	defer timer.Stop()
	select {
	case act := <-hs.actions:
		switch ev := act.ev.(type) {
		case ws.Accept:
			err := c.upgrade(w, r, ev)
			act.reply <- err
			if err == nil {
				return true
			}
			a.log.Warn("websocket: upgrade failed", "scope", c.scope.Key, "err", err)
			c.refuse(w, 0, ws.CloseAbnormal) // gorilla has answered the client already
		case ws.Close:
			a.log.Debug("websocket: handshake denied", "scope", c.scope.Key, "code", ev.Code, "reason", ev.Reason)
			c.refuse(w, http.StatusForbidden, ws.CloseAbnormal)
		case appEnded:
			c.refuse(w, c.endedStatus(ev.err), ws.CloseAbnormal)
		}
	case <-timer.C:
		a.log.Warn("websocket: application neither accepted nor closed in time", "scope", c.scope.Key, "timeout", a.opts.HandshakeTimeout)
		c.refuse(w, http.StatusGatewayTimeout, ws.CloseAbnormal)
	case <-a.closing:
		c.refuse(w, http.StatusServiceUnavailable, ws.CloseGoingAway)
	}
	return false
}

// endedStatus is the HTTP status for an application that ended before
// accepting. Its error goes to the log, never to the client.
func (c *conn) endedStatus(err error) int {
	log := c.a.log.With("scope", c.scope.Key, "path", c.scope.Path)
	switch {
	case errors.Is(err, core.ErrNoRoute):
		log.Info("websocket: no route", "status", http.StatusNotFound)
		return http.StatusNotFound
	case err == nil:
		log.Warn("websocket: application returned before accepting", "status", http.StatusInternalServerError)
	default:
		log.Warn("websocket: application failed before accepting", "status", http.StatusInternalServerError, "err", err)
	}
	return http.StatusInternalServerError
}

// refuse ends a handshake that did not open a socket: it answers the client
// with status (0: already answered), then gives the application its
// Disconnect and stops it. The code is 1006, as Daphne gives a socket that
// never opened, or 1001 when the hub is shutting down.
func (c *conn) refuse(w http.ResponseWriter, status, code int) {
	c.endHandshake(stateClosed)
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		_ = http.NewResponseController(w).Flush() // answer now, not after the instance stops
	}
	c.stop(ws.Disconnect{Code: code})
}

// endHandshake moves the connection out of the handshake: pending and later
// actions of the application see over closed.
func (c *conn) endHandshake(st connState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endHandshakeLocked(st)
}

func (c *conn) endHandshakeLocked(st connState) {
	close(c.hs.over)
	c.hs = nil
	c.state = st
}

// upgrade completes the handshake the application accepted and readies the
// socket for reading and writing.
func (c *conn) upgrade(w http.ResponseWriter, r *http.Request, acc ws.Accept) error {
	if acc.Subprotocol != "" && !slices.Contains(c.scope.Subprotocols, acc.Subprotocol) {
		// A browser fails a socket whose subprotocol it did not offer.
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return fmt.Errorf("websocket: accept %s: subprotocol %q was not offered by the client", c.scope.Key, acc.Subprotocol)
	}
	header := acc.Headers.Clone()
	if acc.Subprotocol != "" {
		if header == nil {
			header = make(http.Header, 1)
		}
		header.Set("Sec-WebSocket-Protocol", acc.Subprotocol)
	}
	hj := &hijacker{ResponseWriter: w}
	conn, err := c.a.upgrader.Upgrade(hj, r, header)
	if err != nil {
		return fmt.Errorf("websocket: accept %s: %w", c.scope.Key, err)
	}
	o := c.a.opts
	conn.SetReadLimit(o.MaxMessageSize)
	conn.SetPongHandler(func(string) error { c.touch(); return nil })
	c.mu.Lock()
	c.ws, c.w, c.br = conn, hj.w, hj.br
	c.seen = time.Now()
	c.setReadDeadlineLocked(c.seen.Add(o.PongTimeout))
	c.endHandshakeLocked(stateOpen)
	c.mu.Unlock()
	if p := c.a.pinger(); p != nil {
		p.add(c)
	}
	select {
	case <-c.a.closing: // Shutdown may have passed this connection by while it was handshaking
		c.startClose(ws.CloseGoingAway, "server shutting down", false)
	default:
	}
	c.a.log.Debug("websocket: accepted", "scope", c.scope.Key, "path", c.scope.Path, "subprotocol", acc.Subprotocol, "client", c.scope.Client)
	return nil
}

// hijacker hands gorilla the adapter's own read buffer and connection.
// With Upgrader.ReadBufferSize 0, gorilla adopts the hijacked bufio.Reader
// when it holds more than 256 bytes; giving it this one lets the reader wait
// for the next frame in bufio (a shallow stack, so an idle socket's
// goroutine stays small), consume pongs itself, and take the buffer away
// while the socket is parked. The connection is a wire, through which
// gorilla's own writes wait for the adapter's.
type hijacker struct {
	http.ResponseWriter
	w  *wire
	br *bufio.Reader
}

// Hijack implements http.Hijacker.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return nc, brw, err // gorilla refuses a client that spoke before the handshake ended
	}
	h.w, h.br = newWire(nc), new(bufio.Reader)
	attachBuffer(h.br, nc)
	return h.w, bufio.NewReadWriter(h.br, brw.Writer), nil
}
