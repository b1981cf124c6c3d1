package telegram

import (
	"context"
	"errors"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// errNotRunning refuses updates outside Run (a webhook request before Run
// or during shutdown): Telegram will deliver them again.
var errNotRunning = errors.New("telegram: adapter not running")

// liveScope is one open chat scope and its idle timer.
type liveScope struct {
	key    string
	bot    *botRunner
	target target
	inst   *core.Instance
	timer  *time.Timer
	gone   chan struct{} // closed once the instance ended and was forgotten

	// Guarded by Adapter.mu.
	last     time.Time     // last update
	inflight int           // updates being delivered: not idle
	closing  bool          // no more updates are let in
	drained  chan struct{} // closed when inflight falls to 0 while closing
}

// dispatch delivers an update to its chat's scope, opening it if needed.
// Updates about no chat (inline queries, polls) are ignored.
func (a *Adapter) dispatch(ctx context.Context, b *botRunner, u *models.Update) error {
	// Checked first: a webhook may be called before Run has learnt the
	// bot's username, which event needs.
	if !a.isRunning() {
		return errNotRunning
	}
	ev, t, ok := b.event(u)
	if !ok {
		a.log.Debug("update about no chat ignored", "bot", b.cfg.Name, "update_id", u.ID)
		if a.outbox != nil {
			a.outbox.InboundHandled(Platform, b.cfg.Name, u.ID)
		}
		return nil
	}
	for {
		s, err := a.open(ctx, b, t)
		if err != nil {
			return err
		}
		err = s.inst.Deliver(ctx, ev)
		a.mu.Lock()
		s.inflight--
		s.last = time.Now() // idle from when the event got in, however long that took
		if s.inflight == 0 && s.drained != nil {
			close(s.drained)
			s.drained = nil
		}
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

// open returns the chat's live scope, starting one on first contact. It
// marks an update in flight, so the scope cannot go idle under it.
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

// start runs a new instance for a chat. Callers hold a.mu.
func (a *Adapter) start(b *botRunner, t target, key string) (*liveScope, error) {
	scope := &core.Scope{
		Type:  Platform,
		Key:   key,
		Bot:   b.cfg.Name,
		Extra: map[string]any{"chat_id": t.chat, "thread_id": t.thread},
	}
	var tr *tracker
	if a.outbox != nil {
		tr = newTracker()
		a.trackers.Store(scope, tr)
	}
	inst, err := a.rt.Start(a.running, scope, func(ctx context.Context, ev core.Event) error {
		return a.perform(ctx, b, t, tr, ev)
	})
	if err != nil {
		a.trackers.Delete(scope)
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
	a.trackers.Delete(s.inst.Scope())
	s.timer.Stop()
	a.mu.Lock()
	if a.scopes[s.key] == s {
		delete(a.scopes, s.key)
	}
	a.mu.Unlock()
	s.bot.limit.Forget(chatKey{chat: s.target.chat, group: s.target.group})
	close(s.gone)
}

// expire closes a scope that had no update for IdleTimeout, or sets its
// timer again for the time left.
func (a *Adapter) expire(s *liveScope) {
	a.mu.Lock()
	if s.closing || a.scopes[s.key] != s { // closing, or already ended
		a.mu.Unlock()
		return
	}
	if left := a.opts.IdleTimeout - time.Since(s.last); left > 0 || s.inflight > 0 {
		if left <= 0 { // an update is waiting for room in the inbox
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
	var drained chan struct{}
	if s.inflight > 0 {
		drained = make(chan struct{})
		s.drained = drained
	}
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	if drained != nil { // let updates already accepted in first: Disconnect comes last
		select {
		case <-drained:
		case <-ctx.Done():
		}
	}
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
