package websocket

import (
	"sync"
	"time"
)

// pinger pings every open socket once per PingInterval from one goroutine,
// rather than a timer (and a goroutine per firing) per socket: sockets sit
// in slots, in the order they opened, and each tick pings one slot. A ping
// goes out with one write that never waits, like a send, so an idle socket
// is pinged without a goroutine of its own.
type pinger struct {
	tick time.Duration

	mu    sync.Mutex
	slots []*conn // each slot's sockets, linked through conn.pingNext and pingPrev
	next  int     // the slot the next tick pings
	stop  chan struct{}
	done  chan struct{}
}

// maxPingSlots bounds the slots; a short PingInterval (tests) has fewer, so
// that a tick is never under a millisecond.
const maxPingSlots = 16

func newPinger(interval time.Duration) *pinger {
	n := min(maxPingSlots, max(1, int(interval/time.Millisecond)))
	p := &pinger{
		tick:  interval / time.Duration(n),
		slots: make([]*conn, n),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go p.run()
	return p
}

// add puts a socket in the slot pinged last, a PingInterval from now.
func (p *pinger) add(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	slot := (p.next + len(p.slots) - 1) % len(p.slots)
	c.pingSlot = int32(slot)
	c.pingNext = p.slots[slot]
	if c.pingNext != nil {
		c.pingNext.pingPrev = c
	}
	p.slots[slot] = c
}

// remove takes a closed socket out of its slot; it may be called again.
func (p *pinger) remove(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.pingSlot < 0 {
		return
	}
	if c.pingPrev != nil {
		c.pingPrev.pingNext = c.pingNext
	} else {
		p.slots[c.pingSlot] = c.pingNext
	}
	if c.pingNext != nil {
		c.pingNext.pingPrev = c.pingPrev
	}
	c.pingNext, c.pingPrev, c.pingSlot = nil, nil, -1
}

// run pings a slot per tick until stopped.
func (p *pinger) run() {
	defer close(p.done)
	t := time.NewTicker(p.tick)
	defer t.Stop()
	var batch []*conn
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		for c := p.slots[p.next]; c != nil; c = c.pingNext {
			batch = append(batch, c)
		}
		p.next = (p.next + 1) % len(p.slots)
		p.mu.Unlock()
		for i, c := range batch {
			c.ping() // outside mu: a ping may drop the socket, which removes it
			batch[i] = nil
		}
		batch = batch[:0]
	}
}

// halt stops the goroutine and waits for it. Call it once.
func (p *pinger) halt() {
	close(p.stop)
	<-p.done
}
