package mqtt

import (
	"context"
	"errors"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
)

// topic is one live topic: its queue, fed by onMessage, and the worker
// goroutine that moves the queue into the topic's scope instance.
type topic struct {
	name  string
	queue chan paho.Message
	// Guarded by conn.mu:
	waiters int       // onMessage calls waiting for room
	held    int       // how often onMessage had to wait, for the log
	warned  time.Time // when that was last logged
}

// warnEvery limits the queue-full warning to one per topic per interval.
const warnEvery = 10 * time.Second

// worker owns a topic's scope instance, and is the only one to deliver
// messages to it, which is what keeps them in order.
type worker struct {
	c    *conn
	t    *topic
	inst *core.Instance // nil: no scope open
	sent int            // messages put in inst's inbox
	// pending are messages to deliver, oldest first: those an ended scope
	// left unread, then the newest from the queue.
	pending []hubmqtt.Message
}

// run opens the scope on demand, delivers the queue in order, closes the
// scope when idle, and retires the topic when the adapter stops or nothing
// is left to do.
func (w *worker) run() {
	idle := time.NewTimer(w.c.a.opts.IdleTimeout)
	defer idle.Stop()
	for {
		select {
		case m := <-w.t.queue:
			w.pending = append(w.pending, w.c.message(m))
			w.flush(w.c.ictx)
		case <-w.instDone():
			// The consumer returned by itself: give what it left unread to
			// a new scope now rather than with the next message.
			w.ended(w.c.ictx)
			w.flush(w.c.ictx)
		case <-idle.C:
			w.close("idle")
			if len(w.pending) == 0 && w.c.retire(w.t) {
				return
			}
			w.flush(w.c.ictx) // what the scope left unread, if anything
		case <-w.c.stopping:
			w.drain()
			return
		}
		idle.Reset(w.c.a.opts.IdleTimeout)
	}
}

// flush delivers the pending messages in order, opening a scope when there
// is none. It returns early only when ctx ends (shutdown).
func (w *worker) flush(ctx context.Context) {
	for len(w.pending) > 0 {
		if w.inst == nil && !w.open() {
			w.drop("cannot open scope")
			continue
		}
		err := w.inst.Deliver(ctx, w.pending[0])
		switch {
		case err == nil:
			w.pending = w.pending[1:]
			w.sent++
		case errors.Is(err, core.ErrScopeClosed), errors.Is(err, core.ErrInboxFull):
			if !w.ended(ctx) {
				return
			}
		default:
			return
		}
	}
}

// ended waits for an instance that ended under the worker and takes back
// what it never read, to give to the next scope. A scope that read none of
// its messages would refuse them forever, so then the oldest is dropped:
// whatever ends a scope on its first message is not retried.
func (w *worker) ended(ctx context.Context) bool {
	select {
	case <-w.inst.Done():
	case <-ctx.Done():
		return false
	}
	back := takeBack(w.inst)
	read := w.sent - len(back)
	w.pending = append(back, w.pending...)
	w.inst, w.sent = nil, 0
	if read == 0 && len(w.pending) > 0 {
		w.drop("scope ended without reading it")
	}
	return true
}

// instDone is the open instance's Done channel, or nil (never ready).
func (w *worker) instDone() <-chan struct{} {
	if w.inst == nil {
		return nil
	}
	return w.inst.Done()
}

func (w *worker) drop(why string) {
	w.c.log.Error("message dropped", "topic", w.t.name, "why", why)
	w.pending = w.pending[1:]
}

func (w *worker) open() bool {
	scope := &core.Scope{
		Type: "mqtt",
		Key:  "mqtt:" + w.c.cfg.Name + ":" + w.t.name,
		Path: w.t.name,
	}
	inst, err := w.c.a.opts.Runtime.Start(w.c.ictx, scope, w.c.send)
	if err != nil {
		w.c.log.Error("cannot open scope", "scope", scope.Key, "err", err)
		return false
	}
	w.inst, w.sent = inst, 0
	return true
}

// close tells the scope it is over, waits for it to end, and takes back
// what it left unread (a consumer that returned before its Disconnect).
func (w *worker) close(reason string) {
	if w.inst == nil {
		return
	}
	ctx, cancel := context.WithTimeout(w.c.ictx, closeGrace)
	err := w.inst.Deliver(ctx, hubmqtt.Disconnect{Reason: reason})
	cancel()
	if err != nil && !errors.Is(err, core.ErrScopeClosed) {
		w.c.log.Warn("could not deliver disconnect", "scope", w.inst.Scope().Key, "err", err)
	}
	w.inst.Stop(closeGrace)
	w.pending = append(takeBack(w.inst), w.pending...)
	w.inst, w.sent = nil, 0
}

// drain delivers what was acknowledged but not yet delivered, so a clean
// shutdown loses nothing, then closes the scope. A consumer that does not
// take it within closeGrace loses the rest. Nothing is queued once stopping
// is closed, except by an onMessage call that was already waiting, and that
// one does not acknowledge what it queued.
func (w *worker) drain() {
	for len(w.t.queue) > 0 {
		w.pending = append(w.pending, w.c.message(<-w.t.queue))
	}
	ctx, cancel := context.WithTimeout(w.c.ictx, closeGrace)
	defer cancel()
	w.flush(ctx)
	w.close("shutdown")
	if n := len(w.pending); n > 0 {
		w.c.log.Warn("shutdown: consumer too slow; undelivered messages dropped", "topic", w.t.name, "dropped", n)
	}
}

// retire forgets the topic if no message is queued or on its way; the next
// message makes a new one. Closing the scope before retiring keeps two
// instances of one scope from ever overlapping.
func (c *conn) retire(t *topic) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(t.queue) > 0 || t.waiters > 0 {
		return false
	}
	delete(c.topics, t.name)
	return true
}

func (c *conn) message(m paho.Message) hubmqtt.Message {
	return hubmqtt.Message{Topic: m.Topic(), Payload: m.Payload(), QoS: m.Qos(), Retained: m.Retained(), Broker: c.cfg.Name}
}
