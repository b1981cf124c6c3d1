package websocket

import (
	"errors"
	"fmt"
	"time"

	gorilla "github.com/gorilla/websocket"

	ws "github.com/hubhq/hub/core/websocket"
)

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
