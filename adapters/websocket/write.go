package websocket

import (
	"errors"
	"fmt"
	"slices"
	"time"

	gorilla "github.com/gorilla/websocket"

	ws "github.com/hubhq/hub/core/websocket"
)

// enqueue sends a frame (a pooled buffer, which it takes over): at once
// when no writer is at work, else through the write queue. A client that
// lets the queue fill is closed with 1008.
func (c *conn) enqueue(f *[]byte) error {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		putBuffer(f)
		return ErrClosed
	}
	if !c.flushing && c.w.rc != nil {
		// The queue is empty and the wire free: write from the sender's
		// goroutine, which saves a goroutine and a hand-over per message.
		c.flushing = true
		c.a.wg.Add(1)
		c.mu.Unlock()
		c.writeNow(*f, f)
		return nil
	}
	if n := len(c.queue); n >= c.a.opts.WriteQueue {
		c.mu.Unlock()
		putBuffer(f)
		c.a.log.Warn("websocket: client too slow; closing", "scope", c.scope.Key, "code", ws.ClosePolicy, "queued", n)
		c.startClose(ws.ClosePolicy, "client too slow", true)
		return fmt.Errorf("websocket: send to %s: write queue full (%d frames), client too slow: %w", c.scope.Key, n, ErrClosed)
	}
	c.queue = append(c.queue, owned(*f, f))
	c.kickLocked()
	c.mu.Unlock()
	return nil
}

// owned returns a frame that may wait in the queue: a copy of one in a
// pooled buffer, which goes back to the pool, so that a slow client's queue
// holds its frames and not 4-KiB buffers.
func owned(frame []byte, buf *[]byte) []byte {
	if buf == nil {
		return frame
	}
	q := slices.Clone(frame)
	putBuffer(buf)
	return q
}

// writeNow writes a frame without ever waiting: the caller has taken the
// writer's part (flushing, and a count on the adapter's WaitGroup), and
// writeNow passes it to a flusher goroutine if anything is left to write,
// the rest of this frame included. buf, if not nil, is the pooled buffer
// that holds the frame; it goes back once the frame is written.
func (c *conn) writeNow(frame []byte, buf *[]byte) {
	if !c.w.mu.TryLock() { // gorilla is writing a pong or a close: queue ahead of the rest
		c.mu.Lock()
		c.queue = slices.Insert(c.queue, 0, owned(frame, buf))
		c.mu.Unlock()
		go c.flush(nil, nil)
		return
	}
	n, err := c.w.tryWrite(frame)
	switch {
	case err != nil:
		c.w.mu.Unlock()
		putBuffer(buf)
		c.writeFailed(err)
		c.a.wg.Done()
	case n < len(frame):
		go c.flush(frame[n:], buf) // the flusher inherits the wire's lock: nothing may come between
	default:
		c.w.mu.Unlock()
		putBuffer(buf)
		if c.writerDone() {
			c.a.wg.Done()
		} else {
			go c.flush(nil, nil)
		}
	}
}

// writerDone gives up the writer's part and reports true if nothing is left
// to write; else the caller keeps it.
func (c *conn) writerDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateClosed && (len(c.queue) > 0 || c.pingDue || c.state == stateClosing && !c.closeSent) {
		return false
	}
	c.flushing = false
	c.queue = nil // an idle socket keeps no queue
	return true
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

// ping is the pinger's call, once per PingInterval: it writes a ping like
// a send, at once if no writer is at work. It also drops a parked client
// silent for PongTimeout: a running reader has its read deadline for that,
// but a parked socket has no read running.
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
	if c.flushing || c.w.rc == nil {
		c.pingDue = true
		c.kickLocked()
		c.mu.Unlock()
		return
	}
	c.flushing = true
	c.a.wg.Add(1)
	c.mu.Unlock()
	c.writeNow(pingFrame, nil)
}

// kickLocked starts a flusher unless a writer is at work. Callers hold mu,
// and the connection is not closed, so the adapter's WaitGroup is above zero.
func (c *conn) kickLocked() {
	if c.flushing {
		return
	}
	c.flushing = true
	c.a.wg.Add(1)
	go c.flush(nil, nil)
}

// flush is the writer in a goroutine of its own. It finishes a frame whose
// start writeNow wrote (rest, with the wire still locked; buf is its pooled
// buffer, if any), then writes pings, queued frames and finally the close
// frame, and exits when there is nothing left: an idle socket has no
// writer goroutine.
func (c *conn) flush(rest []byte, buf *[]byte) {
	defer c.a.wg.Done()
	if rest != nil {
		err := c.w.finish(rest, c.deadline())
		putBuffer(buf)
		if err != nil {
			c.writeFailed(err)
			return
		}
	}
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
			err = c.w.write(pingFrame, c.deadline())
		case len(c.queue) > 0:
			f := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			c.mu.Unlock()
			err = c.w.write(f, c.deadline())
		case c.state == stateClosing && !c.closeSent:
			c.closeSent = true
			code, reason := c.code, c.reason
			c.mu.Unlock()
			err = c.w.write(closeFrame(code, reason), c.deadline())
			if err == nil {
				// Wait a little for the client's answer, no longer: the
				// deadline ends a reader waiting for it, the timer a parked socket.
				wait := min(closeWait, c.a.opts.CloseTimeout)
				c.mu.Lock() // with mu: the reader moves its deadline only before closeSent
				c.setReadDeadlineLocked(time.Now().Add(wait))
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

// writeFailed ends the writer after a failed write. The socket is then
// useless (a frame may be half written), so it is dropped, which ends the
// reader; a close decided before keeps its code.
func (c *conn) writeFailed(err error) {
	// gorilla has sent a close frame: it answered the client's close, or
	// closed for a protocol error; the reader is ending, with its own code.
	closing := errors.Is(err, gorilla.ErrCloseSent)
	c.mu.Lock()
	c.flushing = false
	c.queue = nil
	c.closeSent = true
	if c.state == stateOpen && !closing {
		c.state = stateClosing
		c.code = ws.CloseAbnormal
	}
	c.mu.Unlock()
	if closing {
		return
	}
	c.a.log.Debug("websocket: write failed; dropping connection", "scope", c.scope.Key, "err", err)
	c.drop()
}

// drop closes the network connection under the reader, which then tears
// the connection down. It is safe to call at any time, repeatedly.
func (c *conn) drop() {
	c.mu.Lock()
	w, parked := c.w, c.parked
	c.parked = false
	c.mu.Unlock()
	if w == nil {
		return
	}
	if parked {
		c.a.poll.forget(c)
	}
	_ = w.Close()
	if parked {
		go c.readLoop(true) // a parked socket has no reader to notice: start one
	}
}
