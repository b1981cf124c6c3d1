package websocket

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	gorilla "github.com/gorilla/websocket"

	"github.com/hubhq/hub/core"
	ws "github.com/hubhq/hub/core/websocket"
)

// readLoop is a reader: started after the upgrade, and again whenever a
// parked socket has something to read. It reads frames into the instance's
// inbox until it parks the socket or the socket ends; then it tears it down.
//
// woken is true for a reader started because the socket has something to
// read: it reads before it may park again.
func (c *conn) readLoop(woken bool) {
	if code, reason, parked := c.read(woken); !parked {
		c.teardown(code, reason)
	}
}

// read delivers messages until the socket ends, returning the close code
// the client gave (1006 if none), or until it is parked with nothing to read.
func (c *conn) read(woken bool) (code int, reason string, parked bool) {
	if c.br.Size() == 0 {
		attachBuffer(c.br, c.w) // the socket gave its buffer back when it parked
	}
	for mayPark, hot := !woken, false; ; mayPark = true {
		if mayPark && c.br.Buffered() == 0 && !(hot && c.awaitMore()) && c.park() {
			return 0, "", true
		}
		hot = false
		ev, ok, err := c.next()
		if err != nil {
			code, reason = c.readEnded(err)
			return code, reason, false
		}
		if !ok || !c.is(stateOpen) {
			continue // a pong; or the socket is closing, and only the client's close frame matters now
		}
		if err := c.inst.Deliver(c.a.ctx, ev); errors.Is(err, core.ErrInboxFull) {
			c.startClose(ws.CloseTryAgainLater, "inbox full", false)
		}
		// Any other error means the instance has ended (its end closes the
		// socket) or the adapter is dropping every socket.
		c.touch() // after the delivery: a slow application (Block policy) is not the client's silence
		hot = true
	}
}

// next reads the next message. It has none (ok false) for a pong, or for
// text that is not UTF-8, which starts a close with 1007.
func (c *conn) next() (ev ws.Receive, ok bool, err error) {
	if !wholeFrame(c.br) {
		c.liveDeadline() // the read may wait on the client
	}
	if pong, err := c.skipPong(); pong || err != nil {
		return ev, false, err
	}
	kind, r, err := c.ws.NextReader()
	if err != nil {
		return ev, false, err
	}
	b := getBuffer()
	defer putBuffer(b)
	*b, err = readAll(*b, r)
	data := *b
	switch {
	case err != nil:
		return ev, false, err
	case kind == gorilla.BinaryMessage:
		return ws.Receive{Bytes: append([]byte{}, data...)}, true, nil // Bytes is never nil for a binary frame
	case !utf8.Valid(data):
		c.startClose(ws.CloseInvalidData, "invalid UTF-8", false)
		return ev, false, nil
	}
	return ws.Receive{Text: string(data)}, true, nil
}

// wholeFrame reports whether br holds all of the next frame, when that is a
// pong or a data frame that ends its message: reading it cannot then wait
// on the client, so the read deadline need not be moved first.
func wholeFrame(br *bufio.Reader) bool {
	p, _ := br.Peek(br.Buffered())
	if len(p) < 2 || p[0]&finalBit == 0 {
		return false
	}
	switch p[0] & 0x0f {
	case gorilla.TextMessage, gorilla.BinaryMessage, gorilla.PongMessage:
	default:
		return false
	}
	n, header := uint64(p[1]&^maskBit), 2
	switch {
	case n == 126 && len(p) >= 4:
		n, header = uint64(binary.BigEndian.Uint16(p[2:])), 4
	case n == 127 && len(p) >= 10:
		n, header = binary.BigEndian.Uint64(p[2:]), 10
	case n >= 126:
		return false
	}
	if p[1]&maskBit != 0 {
		header += 4
	}
	return len(p) >= header && n <= uint64(len(p)-header)
}

// skipPong waits until the next frame starts to arrive, in bufio rather
// than deep inside gorilla, so an idle socket's reader has a small stack,
// and consumes it if it is a pong. Pongs only prove the client alive;
// gorilla would handle one and then wait deep in its own frames for the
// next data frame, where the socket can be neither parked nor shrunk.
func (c *conn) skipPong() (bool, error) {
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

// awaitMore waits a moment for the next message of a socket that has just
// sent one, and reports whether something arrived (or the read failed:
// the caller then meets the error). A busy socket so keeps its reader
// rather than park and wake for every message, which costs a system call,
// a poller round and a goroutine each time. The short deadline stays set
// (next moves it before any read that may wait on the client), and one set
// for an earlier wait serves while it is at least half ahead: a busy
// socket parks after 5 to 10 ms of quiet, and resets its timer every few
// messages rather than for each.
func (c *conn) awaitMore() bool {
	c.mu.Lock()
	if c.state != stateOpen || c.noPark {
		c.mu.Unlock()
		return false
	}
	now := time.Now()
	deadline := now.Add(parkAfter)
	if limit := c.seen.Add(c.a.opts.PongTimeout); limit.Before(deadline) {
		deadline = limit
	}
	if !c.rdl.After(deadline) && c.rdl.After(now.Add(parkAfter/2)) {
		deadline = c.rdl
	}
	c.setReadDeadlineLocked(deadline)
	c.mu.Unlock()
	_, err := c.br.Peek(1) // bufio hands the timeout to this call alone; gorilla never sees it
	var ne net.Error
	return err == nil || !errors.As(err, &ne) || !ne.Timeout()
}

// liveDeadline sets the read deadline for a read that may wait on the
// client: PongTimeout after the client last proved alive. To spare a busy
// socket a timer update per frame, the deadline moves only once it falls
// short, and then a quarter further: a silent client is dropped between
// PongTimeout and 1.25 × PongTimeout after its last sign of life. Once the
// close frame is out, the close's own deadline stands.
func (c *conn) liveDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	timeout := c.a.opts.PongTimeout
	if !c.closeSent && c.rdl.Before(c.seen.Add(timeout)) {
		c.setReadDeadlineLocked(c.seen.Add(timeout + timeout/4))
	}
}

// park hands an idle socket to the adapter's poller and reports whether this
// reader goroutine must now end. A closing socket is not parked: its reader
// waits for the client's close frame with a deadline. The read buffer goes
// back to the pool before the socket is registered, since the next reader
// may start at once.
func (c *conn) park() bool {
	p := c.a.poller() // before parked is set: drop reads a.poll once it sees parked
	c.mu.Lock()
	if c.state != stateOpen || c.noPark || p == nil {
		c.mu.Unlock()
		return false
	}
	detachBuffer(c.br)
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
	if mine {
		attachBuffer(c.br, c.w)
	}
	return !mine // drop took the socket over meanwhile and started its own reader
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

// touch records that the client is alive; liveDeadline reads it. Once
// closing, the close's deadline counts, not the client's signs of life.
func (c *conn) touch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
}

func (c *conn) touchLocked() {
	if c.state == stateOpen {
		c.seen = time.Now()
	}
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
	if c.closer != nil {
		c.closer.Stop()
	}
	linger := c.lingering
	c.mu.Unlock()
	if p := c.a.pinger(); p != nil {
		p.remove(c)
	}
	c.closeNet(linger) // a running flusher fails and exits
	detachBuffer(c.br)
	c.a.log.Debug("websocket: closed", "scope", c.scope.Key, "code", code, "reason", reason)
	c.stop(ws.Disconnect{Code: code, Reason: reason})
	c.a.done(c)
}

// closeNet closes the network connection. After a close frame the client
// may still be sending (the rest of an oversized message): closing with
// unread data makes the kernel reset the connection, and the client could
// lose the close frame, so then a short-lived goroutine reads and discards
// for a moment first.
func (c *conn) closeNet(linger bool) {
	nc := c.w.Conn
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
