package discord

import (
	"context"
	"errors"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// errNotRunning refuses events outside Run (during shutdown).
var errNotRunning = errors.New("discord: adapter not running")

// liveScope is one open conversation scope and its idle timer.
type liveScope struct {
	key    string
	bot    *botRunner
	target target
	inst   *core.Instance
	timer  *time.Timer
	gone   chan struct{} // closed once the instance ended and was forgotten

	// Guarded by Adapter.mu.
	last     time.Time // last event
	inflight int       // events being delivered: not idle
	closing  bool
}

// dispatch delivers an event to its conversation's scope, opening it if
// needed.
func (a *Adapter) dispatch(ctx context.Context, b *botRunner, t target, ev core.Event) error {
	for {
		s, err := a.open(ctx, b, t)
		if err != nil {
			return err
		}
		err = s.inst.Deliver(ctx, ev)
		a.mu.Lock()
		s.inflight--
		s.last = time.Now() // idle from when the event got in, however long that took
		a.mu.Unlock()
		if !errors.Is(err, core.ErrScopeClosed) {
			return err
		}
		// The application returned just now: start a fresh instance.
		if err := waitGone(ctx, s); err != nil {
			return err
		}
	}
}

func (a *Adapter) isRunning() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running != nil
}

// open returns the conversation's live scope, starting one on first contact.
// It marks an event in flight, so the scope cannot go idle under it.
func (a *Adapter) open(ctx context.Context, b *botRunner, t target) (*liveScope, error) {
	key := t.key(b.cfg.Name)
	for {
		a.mu.Lock()
		if a.running == nil {
			a.mu.Unlock()
			return nil, errNotRunning
		}
		s := a.scopes[key]
		if s == nil {
			var err error
			if s, err = a.start(b, t, key); err != nil {
				a.mu.Unlock()
				return nil, err
			}
		}
		if !s.closing {
			s.last = time.Now()
			s.inflight++
			a.mu.Unlock()
			return s, nil
		}
		a.mu.Unlock()
		if err := waitGone(ctx, s); err != nil { // the old instance is closing
			return nil, err
		}
	}
}

// start runs a new instance for a conversation. Callers hold a.mu.
func (a *Adapter) start(b *botRunner, t target, key string) (*liveScope, error) {
	scope := &core.Scope{
		Type:  Platform,
		Key:   key,
		Bot:   b.cfg.Name,
		Extra: map[string]any{"channel_id": t.channel, "thread_parent_id": t.parent, "guild_id": t.guild},
	}
	r := &reactions{}
	inst, err := a.opts.Runtime.Start(a.running, scope, func(ctx context.Context, ev core.Event) error {
		return a.perform(ctx, b, t, r, ev)
	})
	if err != nil {
		return nil, err
	}
	s := &liveScope{key: key, bot: b, target: t, inst: inst, gone: make(chan struct{}), last: time.Now()}
	s.timer = time.AfterFunc(a.opts.IdleTimeout, func() { a.expire(s) })
	a.scopes[key] = s
	a.wg.Add(1)
	go a.watch(s)
	return s, nil
}

// watch forgets a scope once its instance has ended, however it ended.
func (a *Adapter) watch(s *liveScope) {
	defer a.wg.Done()
	<-s.inst.Done()
	s.timer.Stop()
	a.mu.Lock()
	if a.scopes[s.key] == s {
		delete(a.scopes, s.key)
	}
	a.mu.Unlock()
	s.bot.limit.Forget(s.target.channel)
	close(s.gone)
}

// expire closes a scope that had no event for IdleTimeout, or sets its
// timer again for the time left.
func (a *Adapter) expire(s *liveScope) {
	a.mu.Lock()
	if s.closing || a.scopes[s.key] != s { // closing, or already ended
		a.mu.Unlock()
		return
	}
	if left := a.opts.IdleTimeout - time.Since(s.last); left > 0 || s.inflight > 0 {
		if left <= 0 { // an event is waiting for room in the inbox
			left = a.opts.IdleTimeout
		}
		s.timer.Reset(left)
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	a.close(s, "idle")
}

// close ends a scope: its application gets a chat.Disconnect and a grace
// period to return, then it is cancelled.
func (a *Adapter) close(s *liveScope, reason string) {
	a.mu.Lock()
	if s.closing {
		a.mu.Unlock()
		return
	}
	s.closing = true
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	if err := s.inst.Deliver(ctx, chat.Disconnect{Reason: reason}); err != nil && !errors.Is(err, core.ErrScopeClosed) {
		a.log.Warn("could not deliver disconnect", "scope", s.key, "err", err)
	}
	s.inst.Stop(stopGrace)
}

func waitGone(ctx context.Context, s *liveScope) error {
	select {
	case <-s.gone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
