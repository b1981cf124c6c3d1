package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/hubhq/hub/core"
)

// maxQueued bounds the actions waiting for one scope to perform them; a
// plugin that floods one scope loses actions there, not memory.
const maxQueued = 1024

// item is what the process sent for a scope: an acknowledgement or an
// action, tagged with the process it came from.
type item struct {
	pr     *proc
	done   bool
	seq    uint64
	id     json.RawMessage
	action json.RawMessage
}

// conn is a scope's mailbox for what the process sends it. The reader
// pushes without blocking; the scope's goroutine drains it.
type conn struct {
	key  string
	wake chan struct{} // capacity 1: something was pushed

	mu    sync.Mutex
	queue []item
}

func (c *conn) push(it item) bool {
	c.mu.Lock()
	if len(c.queue) >= maxQueued {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, it)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

func (c *conn) drain() []item {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue = nil
	return q
}

// session serves one scope: its events go to the process one at a time,
// each acknowledged (or timed out) before the next, and the actions the
// process sends for it are performed here, in the order they were sent.
type session struct {
	p     *Plugin
	c     *conn
	scope *core.Scope
	wire  wireScope
	state *core.State
	send  core.SendFunc

	seq  uint64
	seen *proc // the process that last had this scope's scope.connect
	met  bool  // some process has had it: later connects are resumed
}

func (s *session) serve(ctx context.Context, inbox core.Inbox) error {
	if err := s.handle(ctx, connectEvent{}); err != nil {
		return err
	}
	for {
		select {
		case ev, ok := <-inbox:
			if !ok {
				return nil
			}
			if err := s.handle(ctx, ev); err != nil {
				return err
			}
			if isLast(ev) {
				return nil
			}
		case <-s.c.wake:
			s.perform(ctx, s.c.drain(), 0)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// handle forwards one event and waits until the process acknowledges it,
// dies, or EventTimeout passes. Only a permanent failure (ErrProtocol,
// ErrClosed) or the scope's end is returned: a lost or late event is
// logged and the scope goes on with the next. An event the process died
// without reading goes to the next process instead.
func (s *session) handle(ctx context.Context, ev core.Event) error {
	for {
		pr, err := s.p.process(ctx)
		if err != nil {
			return err
		}
		if s.seen != pr {
			// A new process (the first, or a restarted one) learns of the
			// scope before its first event.
			s.seen = pr
			if _, isConnect := ev.(connectEvent); !isConnect {
				unread, err := s.forward(ctx, pr, connectEvent{Resumed: s.met})
				if err != nil {
					return err
				}
				if unread {
					continue
				}
			}
		}
		unread, err := s.forward(ctx, pr, ev)
		if err != nil || !unread {
			if _, isConnect := ev.(connectEvent); isConnect && err == nil {
				s.met = true
			}
			return err
		}
	}
}

// forward writes one event to pr and waits for its acknowledgement,
// performing the scope's actions meanwhile. unread is true when pr died
// before the event reached its stdin.
func (s *session) forward(ctx context.Context, pr *proc, ev core.Event) (unread bool, err error) {
	body, err := encodeEvent(ev)
	if err != nil {
		s.p.log.Error("exec: event not forwarded", "scope", s.scope.Key, "err", err)
		return false, nil
	}
	s.seq++
	seq := s.seq
	tctx, cancel := context.WithTimeout(ctx, s.p.cfg.EventTimeout)
	defer cancel()
	line, err := pr.sendLine(tctx, eventLine{Type: "event", Seq: seq, Scope: s.wire, Event: body})
	for err == nil {
		select {
		case <-s.c.wake:
			if s.perform(ctx, s.c.drain(), seq) {
				return false, nil
			}
		case <-pr.dead:
			err = errDied
		case <-tctx.Done():
			err = tctx.Err()
		}
	}
	switch {
	case ctx.Err() != nil:
		return false, ctx.Err()
	case errors.Is(err, errDied) && !pr.wrote(line):
		s.p.log.Info("exec: plugin died before reading an event; the next process gets it", "scope", s.scope.Key, "event", ev.Type())
		return true, nil
	case errors.Is(err, errDied):
		s.p.lost.Add(1)
		s.p.log.Warn("exec: plugin died before acknowledging an event; it is lost", "scope", s.scope.Key, "event", ev.Type(), "seq", seq)
	default:
		s.p.timeouts.Add(1)
		s.p.log.Warn("exec: event not acknowledged in time; moving on", "scope", s.scope.Key, "event", ev.Type(), "seq", seq, "timeout", s.p.cfg.EventTimeout)
	}
	return false, nil
}

// perform carries out the queued actions in order and reports whether the
// acknowledgement of event seq was among them (seq 0: none is awaited).
// Late acknowledgements of events that timed out are ignored.
func (s *session) perform(ctx context.Context, items []item, seq uint64) (acked bool) {
	for _, it := range items {
		if it.done {
			acked = acked || (seq != 0 && it.seq == seq)
			continue
		}
		s.act(ctx, it)
	}
	return acked
}

// act performs one action and, if it carried an id, answers it.
func (s *session) act(ctx context.Context, it item) {
	var a action
	if err := json.Unmarshal(it.action, &a); err != nil || a.Type == "" {
		s.p.invalidLine(it.action, "action without a type")
		s.answer(ctx, it, reply{Type: "action.result", Error: "invalid action"})
		return
	}
	if a.Type == "state.get" {
		s.answer(ctx, it, s.stateGet(a.Key))
		return
	}
	r := reply{Type: "action.result"}
	if err := s.do(ctx, &a, it.id != nil, &r); err != nil {
		s.p.log.Warn("exec: action failed", "scope", s.scope.Key, "action", a.Type, "err", err)
		r.Error = err.Error()
	}
	s.answer(ctx, it, r)
}

func (s *session) do(ctx context.Context, a *action, wantID bool, r *reply) error {
	var sent *string
	if wantID {
		sent = &r.MessageID
	}
	if ev, ok := a.platformEvent(sent); ok {
		return s.send(ctx, ev)
	}
	switch a.Type {
	case "layer.group_add":
		return s.scope.GroupAdd(ctx, a.Group)
	case "layer.group_discard":
		return s.scope.GroupDiscard(ctx, a.Group)
	case "layer.group_send":
		return s.scope.GroupSend(ctx, a.Group, a.Message)
	case "layer.send":
		return s.scope.SendTo(ctx, a.Channel, a.Message)
	case "state.set":
		return s.stateDo(func(st *core.State) error { return st.SetTTL(a.Key, a.Value, a.ttl()) })
	case "state.delete":
		return s.stateDo(func(st *core.State) error { return st.Delete(a.Key) })
	case "state.append":
		return s.stateDo(func(st *core.State) error { return st.Append(a.Key, a.Value, a.Keep) })
	}
	return fmt.Errorf("unknown action %q", a.Type)
}

func (s *session) stateDo(f func(*core.State) error) error {
	if s.state == nil {
		return core.ErrNoStore
	}
	return f(s.state)
}

func (s *session) stateGet(key string) reply {
	r := reply{Type: "state.value"}
	var v json.RawMessage
	found := false
	err := s.stateDo(func(st *core.State) (err error) {
		found, err = st.Get(key, &v)
		return err
	})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Found = &found
	if found {
		r.Value = v
	} else {
		r.Value = json.RawMessage("null")
	}
	return r
}

// answer sends r to the process that asked, if it asked for an answer.
func (s *session) answer(ctx context.Context, it item, r reply) {
	if it.id == nil {
		return
	}
	r.ID = it.id
	if err := it.pr.send(ctx, r); err != nil && ctx.Err() == nil {
		s.p.log.Debug("exec: answer not delivered", "scope", s.scope.Key, "err", err)
	}
}

// farewell tells the process the scope has ended, without waiting: the
// scope's context may be gone already. Actions still queued are dropped.
func (s *session) farewell() {
	if n := len(s.c.drain()); n > 0 {
		s.p.dropped.Add(int64(n))
	}
	s.p.mu.Lock()
	pr := s.p.cur
	s.p.mu.Unlock()
	if pr == nil || pr != s.seen {
		return
	}
	s.seq++
	pr.trySend(eventLine{Type: "event", Seq: s.seq, Scope: s.wire, Event: map[string]any{"type": "scope.disconnect"}})
}
