package mqtt

import (
	"context"
	"errors"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
)

// topic is one live topic: its queue, fed by onMessage, and the goroutine
// (serve) that moves the queue into the topic's scope instance.
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

// serve owns the topic's instance: it opens it on demand, delivers the
// queue in order, closes it when idle, and retires the topic when the
// adapter stops or nothing is left to do.
func (c *conn) serve(t *topic) {
	var inst *core.Instance
	idle := time.NewTimer(c.a.opts.IdleTimeout)
	defer idle.Stop()
	for {
		select {
		case m := <-t.queue:
			inst = c.deliver(c.ictx, t, inst, m)
			idle.Reset(c.a.opts.IdleTimeout)
		case <-idle.C:
			c.closeScope(inst, "idle")
			inst = nil
			if c.retire(t) {
				return
			}
			idle.Reset(c.a.opts.IdleTimeout)
		case <-c.stopping:
			c.drain(t, inst)
			return
		}
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

// drain delivers what was acknowledged but not yet delivered, so a clean
// shutdown loses nothing, then closes the scope. A consumer that does not
// take it within closeGrace loses the rest. Nothing is queued once stopping
// is closed, except by an onMessage call that was already waiting, and that
// one does not acknowledge what it queued.
func (c *conn) drain(t *topic, inst *core.Instance) {
	ctx, cancel := context.WithTimeout(c.ictx, closeGrace)
	defer cancel()
	for len(t.queue) > 0 && ctx.Err() == nil {
		inst = c.deliver(ctx, t, inst, <-t.queue)
	}
	if n := len(t.queue); n > 0 {
		c.log.Warn("shutdown: consumer too slow; undelivered messages dropped", "topic", t.name, "dropped", n)
	}
	c.closeScope(inst, "shutdown")
}

// deliver puts one message in the topic's instance, opening one if there
// is none or the last one has ended, and returns the instance to use next.
func (c *conn) deliver(ctx context.Context, t *topic, inst *core.Instance, m paho.Message) *core.Instance {
	ev := hubmqtt.Message{Topic: m.Topic(), Payload: m.Payload(), QoS: m.Qos(), Retained: m.Retained(), Broker: c.cfg.Name}
	for range 2 {
		if inst == nil {
			var err error
			if inst, err = c.open(t.name); err != nil {
				c.log.Error("cannot open scope; message dropped", "topic", t.name, "err", err)
				return nil
			}
		}
		err := inst.Deliver(ctx, ev)
		switch {
		case err == nil:
			return inst
		case errors.Is(err, core.ErrScopeClosed):
			inst = nil // the consumer returned by itself: a new scope takes the message
		default: // ErrInboxFull (CloseScope policy) or shutdown: the policy said drop
			c.log.Warn("message not delivered", "topic", t.name, "err", err)
			return waitEnded(ctx, inst)
		}
	}
	c.log.Error("scope ended at once twice; message dropped", "topic", t.name)
	return nil
}

// waitEnded returns nil once a closing instance has ended, so the next
// message opens a fresh scope and two never overlap.
func waitEnded(ctx context.Context, inst *core.Instance) *core.Instance {
	select {
	case <-inst.Done():
		return nil
	case <-ctx.Done():
		return inst
	}
}

func (c *conn) open(name string) (*core.Instance, error) {
	scope := &core.Scope{
		Type: "mqtt",
		Key:  "mqtt:" + c.cfg.Name + ":" + name,
		Path: name,
	}
	return c.a.opts.Runtime.Start(c.ictx, scope, c.send)
}

// closeScope tells the instance its scope is over and waits for it to end.
func (c *conn) closeScope(inst *core.Instance, reason string) {
	if inst == nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ictx, closeGrace)
	err := inst.Deliver(ctx, hubmqtt.Disconnect{Reason: reason})
	cancel()
	if err != nil && !errors.Is(err, core.ErrScopeClosed) {
		c.log.Warn("could not deliver disconnect", "scope", inst.Scope().Key, "err", err)
	}
	inst.Stop(closeGrace)
}
