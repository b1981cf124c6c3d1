package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	gorilla "github.com/gorilla/websocket"

	"github.com/hubhq/hub/core"
	ws "github.com/hubhq/hub/core/websocket"
)

type connState int

const (
	stateHandshake connState = iota // waiting for the application's Accept or Close
	stateOpen                       // upgraded; frames flow both ways
	stateClosing                    // a close code is decided; only the close frame is still to go
	stateClosed                     // torn down, or never opened
)

// conn is one WebSocket connection and its scope. The reader goroutine owns
// its end (teardown); everything else only decides and queues.
type conn struct {
	a     *Adapter
	scope *core.Scope
	inst  *core.Instance
	ws    *gorilla.Conn // set with state open, under mu
	br    *bufio.Reader // gorilla's read buffer (nil if gorilla made its own)

	mu        sync.Mutex
	state     connState
	hs        *handshake // non-nil while state is stateHandshake
	queue     []frame    // frames waiting for the flusher
	flushing  bool       // a flusher goroutine is running
	pingDue   bool
	closeSent bool  // the close frame is written (or cannot be)
	lingering bool  // drain the client's data before closing
	parked    bool  // no reader: the socket waits in the poller
	noPark    bool  // the socket cannot be parked (TLS)
	pollID    int32 // the socket's id in the poller, 0 before its first park
	seen      time.Time
	closer    *time.Timer // drops a socket whose client does not answer the close
	code      int         // the close code decided, 0 while open
	reason    string      //
	pinger    *time.Timer
}

type frame struct {
	kind int // gorilla.TextMessage or gorilla.BinaryMessage
	data []byte
}

// appEnded is the adapter's private event: watched sends it through the
// scope's own SendFunc when the application returns or panics, so the
// connection learns of it without a goroutine per socket waiting on
// Instance.Done.
type appEnded struct {
	err   error // nil for a plain return; errPanicked for a panic
	cause error // why the instance's context ended, if it has
}

func (appEnded) Type() string { return "websocket.app_ended" }

var errPanicked = errors.New("websocket: application panicked")

// watched wraps the runtime's application to report its end to the
// adapter. It does not recover panics: the runtime does, and counts them.
// It resolves routers itself, as the runtime would, so that the consumer's
// loop still runs right under the instance frame, one frame deeper.
type watched struct{ app core.Application }

// Serve implements core.Application.
func (w watched) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	end := appEnded{err: errPanicked}
	defer func() {
		end.cause = context.Cause(ctx)
		_ = send(ctx, end)
	}()
	app, s, err := core.Resolve(w.app, scope)
	if err == nil {
		err = app.Serve(ctx, s, inbox, send)
	}
	end.err = err
	return err
}

// ErrClosed is returned by a scope's SendFunc once its socket is closing or
// closed; it wraps core.ErrScopeClosed.
var ErrClosed = fmt.Errorf("websocket: connection closed: %w", core.ErrScopeClosed)

// send is the scope's SendFunc: it performs the application's actions. It is
// safe for concurrent use and never waits on the network.
func (c *conn) send(ctx context.Context, ev core.Event) error {
	switch ev := deref(ev).(type) {
	case ws.Send:
		return c.sendFrame(ctx, ev)
	case ws.Accept:
		return c.accept(ctx, ev)
	case ws.Close:
		return c.close(ctx, ev)
	case appEnded:
		c.ended(ev)
		return nil
	default:
		return fmt.Errorf("websocket: %s: cannot send %q on a websocket scope", c.scope.Key, typeOf(ev))
	}
}

// deref lets applications send actions as values or pointers.
func deref(ev core.Event) core.Event {
	switch e := ev.(type) {
	case *ws.Send:
		if e != nil {
			return *e
		}
	case *ws.Accept:
		if e != nil {
			return *e
		}
	case *ws.Close:
		if e != nil {
			return *e
		}
	}
	return ev
}

func typeOf(ev core.Event) string {
	if ev == nil {
		return "<nil>"
	}
	return ev.Type()
}

// handshakeAction hands an action to the waiting ServeHTTP. It returns
// errHandshakeOver if the handshake is no longer waiting, with ok false if
// the socket is not in its handshake at all.
func (c *conn) handshakeAction(ctx context.Context, ev core.Event, reply chan error) (ok bool, err error) {
	c.mu.Lock()
	hs := c.hs
	c.mu.Unlock()
	if hs == nil {
		return false, nil
	}
	select {
	case hs.actions <- hsAction{ev: ev, reply: reply}:
		return true, nil
	case <-hs.over:
		return true, errHandshakeOver
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

func (c *conn) accept(ctx context.Context, acc ws.Accept) error {
	reply := make(chan error, 1)
	ok, err := c.handshakeAction(ctx, acc, reply)
	switch {
	case !ok:
		return fmt.Errorf("websocket: accept %s: already accepted or closed", c.scope.Key)
	case err != nil:
		return fmt.Errorf("websocket: accept %s: %w", c.scope.Key, err)
	}
	return <-reply // ServeHTTP answers as soon as the upgrade is done
}

// sendFrame queues one message. Like Daphne, a send before Accept accepts.
func (c *conn) sendFrame(ctx context.Context, s ws.Send) error {
	f := frame{kind: gorilla.BinaryMessage, data: bytes.Clone(s.Bytes)}
	if s.Bytes == nil {
		if !utf8.ValidString(s.Text) {
			return fmt.Errorf("websocket: send to %s: text is not valid UTF-8", c.scope.Key)
		}
		f = frame{kind: gorilla.TextMessage, data: []byte(s.Text)}
	}
	if c.is(stateHandshake) {
		// Another goroutine of the application may accept first: only a
		// handshake that did not open the socket fails the send.
		if err := c.accept(ctx, ws.Accept{}); err != nil && !c.is(stateOpen) {
			return err
		}
	}
	return c.enqueue(f)
}

func (c *conn) is(st connState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == st
}

func (c *conn) close(ctx context.Context, cl ws.Close) error {
	if cl.Code == 0 {
		cl.Code = ws.CloseNormal
	}
	if !sendableCode(cl.Code) {
		return fmt.Errorf("websocket: close %s: code %d may not be sent in a close frame", c.scope.Key, cl.Code)
	}
	if ok, err := c.handshakeAction(ctx, cl, nil); ok {
		return err // a denial: ServeHTTP answers 403
	}
	if !c.startClose(cl.Code, truncate(cl.Reason, 123), false) {
		return ErrClosed
	}
	return nil
}

// sendableCode reports whether code may travel in a close frame (RFC 6455
// §7.4): 1005, 1006 and 1015 only describe closes, and 1004 is reserved.
func sendableCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}

// truncate cuts s to at most n bytes without splitting a rune: a close
// frame's reason fits in 123.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ended closes the socket for an application that returned after accepting:
// 1000 for a plain return, 1011 for an error or panic, 1013 when the runtime
// ended it for a full inbox. Before accepting, ServeHTTP answers instead.
func (c *conn) ended(e appEnded) {
	if ok, _ := c.handshakeAction(context.Background(), e, nil); ok {
		return
	}
	switch {
	case errors.Is(e.cause, core.ErrInboxFull):
		c.startClose(ws.CloseTryAgainLater, "inbox full", false)
	case e.err != nil:
		c.startClose(ws.CloseInternalError, "internal error", false)
	default:
		c.startClose(ws.CloseNormal, "", false)
	}
}

// enqueue adds a frame to the write queue, or closes a client that lets the
// queue fill with 1008.
func (c *conn) enqueue(f frame) error {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	if n := len(c.queue); n >= c.a.opts.WriteQueue {
		c.mu.Unlock()
		c.a.log.Warn("websocket: client too slow; closing", "scope", c.scope.Key, "code", ws.ClosePolicy, "queued", n)
		c.startClose(ws.ClosePolicy, "client too slow", true)
		return fmt.Errorf("websocket: send to %s: write queue full (%d frames), client too slow: %w", c.scope.Key, n, ErrClosed)
	}
	c.queue = append(c.queue, f)
	c.kickLocked()
	c.mu.Unlock()
	return nil
}

// startClose decides the close code and queues the close frame after what
// is already queued (dropped with discard). The first decision wins; it
// reports whether this one did.
func (c *conn) startClose(code int, reason string, discard bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return false
	}
	c.state = stateClosing
	c.code, c.reason = code, reason
	if discard {
		clear(c.queue)
		c.queue = nil
	}
	c.kickLocked()
	return true
}

// ping is the ping timer's callback. It also drops a parked client silent
// for PongTimeout: a running reader has its read deadline for that, but a
// parked socket has no read running.
func (c *conn) ping() {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	if c.parked && time.Since(c.seen) > c.a.opts.PongTimeout && !readable(c) {
		c.mu.Unlock()
		c.a.log.Debug("websocket: no pong in time; dropping", "scope", c.scope.Key, "timeout", c.a.opts.PongTimeout)
		c.drop()
		return
	}
	c.pingDue = true
	c.pinger.Reset(c.a.opts.PingInterval)
	// The timer runs this callback in a goroutine of its own: let it be the
	// flusher rather than start another.
	run := !c.flushing
	if run {
		c.flushing = true
		c.a.wg.Add(1)
	}
	c.mu.Unlock()
	if run {
		c.flush()
	}
}

// kickLocked starts a flusher unless one is running. Callers hold mu, and
// the connection is not closed, so the adapter's WaitGroup is above zero.
func (c *conn) kickLocked() {
	if c.flushing {
		return
	}
	c.flushing = true
	c.a.wg.Add(1)
	go c.flush()
}

// flush writes pings, queued frames and finally the close frame, then exits:
// an idle socket has no writer goroutine.
func (c *conn) flush() {
	defer c.a.wg.Done()
	for {
		c.mu.Lock()
		var err error
		switch {
		case c.state == stateClosed:
			c.flushing = false
			c.mu.Unlock()
			return
		case c.pingDue:
			c.pingDue = false
			c.mu.Unlock()
			err = c.ws.WriteControl(gorilla.PingMessage, nil, c.deadline())
		case len(c.queue) > 0:
			f := c.queue[0]
			c.queue[0] = frame{}
			c.queue = c.queue[1:]
			c.mu.Unlock()
			err = c.write(f)
		case c.state == stateClosing && !c.closeSent:
			c.closeSent = true
			code, reason := c.code, c.reason
			c.mu.Unlock()
			err = c.ws.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(code, reason), c.deadline())
			if err == nil {
				// Wait a little for the client's answer, no longer: the
				// deadline ends a reader waiting for it, the timer a parked socket.
				wait := min(closeWait, c.a.opts.CloseTimeout)
				c.mu.Lock() // with mu: awaitMore restores its deadline only before closeSent
				_ = c.ws.SetReadDeadline(time.Now().Add(wait))
				if c.state != stateClosed {
					c.closer = time.AfterFunc(wait, c.drop)
				}
				c.mu.Unlock()
			}
		default:
			c.flushing = false
			c.queue = nil // an idle socket keeps no queue
			c.mu.Unlock()
			return
		}
		if err != nil {
			c.writeFailed(err)
			return
		}
	}
}

func (c *conn) deadline() time.Time { return time.Now().Add(c.a.opts.WriteTimeout) }

func (c *conn) write(f frame) error {
	if err := c.ws.SetWriteDeadline(c.deadline()); err != nil {
		return err
	}
	return c.ws.WriteMessage(f.kind, f.data)
}

// writeFailed ends the flusher after a failed write. The socket is then
// useless (a frame may be half written), so it is dropped, which ends the
// reader; a close decided before keeps its code.
func (c *conn) writeFailed(err error) {
	c.mu.Lock()
	c.flushing = false
	c.queue = nil
	c.closeSent = true
	if c.state == stateOpen {
		c.state = stateClosing
		c.code = ws.CloseAbnormal
	}
	c.mu.Unlock()
	if errors.Is(err, gorilla.ErrCloseSent) {
		return // the client closed and gorilla answered; the reader is ending
	}
	c.a.log.Debug("websocket: write failed; dropping connection", "scope", c.scope.Key, "err", err)
	c.drop()
}

// drop closes the network connection under the reader, which then tears
// the connection down. It is safe to call at any time, repeatedly.
func (c *conn) drop() {
	c.mu.Lock()
	conn, parked := c.ws, c.parked
	c.parked = false
	c.mu.Unlock()
	if conn == nil {
		return
	}
	if parked {
		c.a.poll.forget(c)
	}
	_ = conn.NetConn().Close()
	if parked {
		go c.readLoop(true) // a parked socket has no reader to notice: start one
	}
}

// touch records that the client is alive and extends the read deadline.
// Once closing, the deadline is the close's and stays.
func (c *conn) touch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
}

func (c *conn) touchLocked() {
	if c.state == stateOpen {
		c.seen = time.Now()
		_ = c.ws.SetReadDeadline(c.seen.Add(c.a.opts.PongTimeout))
	}
}

// readLoop is the connection's goroutine from the upgrade on: it reads
// frames into the instance's inbox until the socket ends, then tears it down.
//
// woken is true for a reader started because the socket has something to
// read: it reads before it may park again.
func (c *conn) readLoop(woken bool) {
	if code, reason, parked := c.read(woken); !parked {
		c.teardown(code, reason)
	}
}

// read delivers frames until the socket ends, returning the close code the
// client gave (1006 if none), or until it is parked with nothing to read.
func (c *conn) read(woken bool) (code int, reason string, parked bool) {
	for mayPark, hot := !woken, false; ; mayPark = true {
		if mayPark && c.br != nil && c.br.Buffered() == 0 && !(hot && c.awaitMore()) && c.park() {
			return 0, "", true
		}
		hot = false
		pong, err := c.skipPong()
		if err != nil {
			code, reason = c.readEnded(err)
			return code, reason, false
		}
		if pong {
			continue
		}
		kind, r, err := c.ws.NextReader()
		if err != nil {
			code, reason = c.readEnded(err)
			return code, reason, false
		}
		c.touch()
		data, err := io.ReadAll(r)
		if err != nil {
			code, reason = c.readEnded(err)
			return code, reason, false
		}
		var ev ws.Receive
		if kind == gorilla.TextMessage {
			if !utf8.Valid(data) {
				c.startClose(ws.CloseInvalidData, "invalid UTF-8", false)
				continue
			}
			ev.Text = string(data)
		} else {
			ev.Bytes = data
			if ev.Bytes == nil {
				ev.Bytes = []byte{}
			}
		}
		if !c.is(stateOpen) {
			continue // the socket is closing: only the client's close frame matters now
		}
		if err := c.inst.Deliver(c.a.ctx, ev); errors.Is(err, core.ErrInboxFull) {
			c.startClose(ws.CloseTryAgainLater, "inbox full", false)
		}
		c.touch() // a slow application (Block policy) is not the client's silence
		hot = true
		// Any other error means the instance has ended (its end closes the
		// socket) or the adapter is dropping every socket.
	}
}

// park hands an idle socket to the adapter's poller and reports whether this
// reader goroutine must now end. A closing socket is not parked: its reader
// waits for the client's close frame with a deadline.
func (c *conn) park() bool {
	p := c.a.poller() // before parked is set: drop reads a.poll once it sees parked
	c.mu.Lock()
	if c.state != stateOpen || c.noPark || p == nil {
		c.mu.Unlock()
		return false
	}
	c.parked = true // before registering: the wake-up may come at once
	c.mu.Unlock()
	err := p.park(c)
	if err == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	mine := c.parked
	c.parked = false
	c.noPark = c.noPark || errors.Is(err, errors.ErrUnsupported)
	return !mine // drop took the socket over meanwhile and started its own reader
}

// awaitMore waits a moment for the next message of a socket that has just
// sent one, and reports whether something arrived (or the read failed:
// the caller then meets the error). A busy socket so keeps its reader
// rather than park and wake for every message, which costs a system call,
// a poller round and a goroutine each time.
func (c *conn) awaitMore() bool {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return false
	}
	deadline := time.Now().Add(parkAfter)
	if limit := c.seen.Add(c.a.opts.PongTimeout); limit.Before(deadline) {
		deadline = limit
	}
	_ = c.ws.SetReadDeadline(deadline)
	c.mu.Unlock()
	_, err := c.br.Peek(1) // bufio hands the timeout to this call alone; gorilla never sees it
	c.mu.Lock()
	if !c.closeSent { // once it is sent, the flusher has set the close's deadline
		_ = c.ws.SetReadDeadline(c.seen.Add(c.a.opts.PongTimeout))
	}
	c.mu.Unlock()
	var ne net.Error
	return err == nil || !errors.As(err, &ne) || !ne.Timeout()
}

// wake starts a reader for a parked socket the client has sent something on.
func (c *conn) wake() {
	c.mu.Lock()
	parked := c.parked
	c.parked = false
	c.touchLocked() // the client sent something; the reader may start late
	c.mu.Unlock()
	if parked {
		go c.readLoop(true)
	}
}

// skipPong waits until the next frame starts to arrive, in bufio rather
// than deep inside gorilla, so an idle socket's reader has a small stack,
// and consumes it if it is a pong. Pongs only prove the client alive;
// gorilla would handle one and then wait deep in its own frames for the
// next data frame, where the socket can be neither parked nor shrunk.
func (c *conn) skipPong() (bool, error) {
	if c.br == nil {
		return false, nil
	}
	p, err := c.br.Peek(2)
	if err != nil {
		return false, err
	}
	const pong, final, masked = 0x0a, 0x80, 0x80
	n := int(p[1] &^ masked)
	if p[0] != final|pong || p[1]&masked == 0 || n > 125 {
		return false, nil // anything else, even a malformed pong, is gorilla's to read
	}
	n += 2 + 4 // header and mask
	if _, err := c.br.Peek(n); err != nil {
		return false, err
	}
	_, _ = c.br.Discard(n)
	c.touch()
	return true, nil
}

// readEnded maps a read error to a close code. Over the size limit, gorilla
// has sent the 1009 close frame itself and the stream is unreadable.
func (c *conn) readEnded(err error) (code int, reason string) {
	var ce *gorilla.CloseError
	switch {
	case errors.As(err, &ce):
		return ce.Code, ce.Text
	case errors.Is(err, gorilla.ErrReadLimit):
		c.mu.Lock()
		if c.state == stateOpen {
			c.state, c.code, c.reason = stateClosing, ws.CloseTooBig, "message too big"
		}
		c.closeSent = true
		c.lingering = true
		c.queue = nil
		c.mu.Unlock()
		return ws.CloseTooBig, "message too big"
	case isProtocolError(err):
		return closeProtocolError, ""
	}
	return ws.CloseAbnormal, ""
}

// closeProtocolError is the code gorilla sends when a client breaks the
// framing rules (core/websocket has no name for it).
const closeProtocolError = 1002

// isProtocolError recognises the errors gorilla returns after answering a
// framing violation with 1002: they are its own plain errors, not the
// network's. gorilla exports no sentinel for them.
func isProtocolError(err error) bool {
	var ne net.Error
	return !errors.As(err, &ne) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
		!errors.Is(err, net.ErrClosed) && strings.HasPrefix(err.Error(), "websocket: ")
}

// closeNet closes the network connection. After a close frame the client
// may still be sending (the rest of an oversized message): closing with
// unread data makes the kernel reset the connection, and the client could
// lose the close frame, so then a short-lived goroutine reads and discards
// for a moment first.
func (c *conn) closeNet(linger bool) {
	nc := c.ws.NetConn()
	if !linger {
		_ = nc.Close()
		return
	}
	c.a.wg.Add(1) // the connection's own count is still held
	go func() {
		defer c.a.wg.Done()
		_ = nc.SetReadDeadline(time.Now().Add(min(closeWait, c.a.opts.CloseTimeout)))
		_, _ = io.Copy(io.Discard, nc) // until the client closes, or the deadline
		_ = nc.Close()
	}()
}

// teardown ends a connection whose reader has stopped: it closes the
// socket, gives the application its Disconnect with the decided code (or
// the client's) and stops the instance.
func (c *conn) teardown(code int, reason string) {
	c.mu.Lock()
	if c.code != 0 {
		code, reason = c.code, c.reason
	}
	c.state = stateClosed
	c.queue = nil
	c.pinger.Stop()
	if c.closer != nil {
		c.closer.Stop()
	}
	linger := c.lingering
	c.mu.Unlock()
	c.closeNet(linger) // a running flusher fails and exits
	c.a.log.Debug("websocket: closed", "scope", c.scope.Key, "code", code, "reason", reason)
	c.stop(ws.Disconnect{Code: code, Reason: reason})
	c.a.done(c)
}

// stop delivers the scope's last event and stops its instance, all within
// CloseTimeout.
func (c *conn) stop(d ws.Disconnect) {
	deadline := time.Now().Add(c.a.opts.CloseTimeout)
	ctx, cancel := context.WithDeadline(c.a.ctx, deadline)
	err := c.inst.Deliver(ctx, d)
	cancel()
	if err != nil && !errors.Is(err, core.ErrScopeClosed) {
		c.a.log.Debug("websocket: disconnect not delivered", "scope", c.scope.Key, "code", d.Code, "err", err)
	}
	c.inst.Stop(time.Until(deadline))
}
