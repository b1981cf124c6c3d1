package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hubhq/hub/adapters/outbox"
	"github.com/hubhq/hub/adapters/ratelimit"
	"github.com/hubhq/hub/store"
)

// Outbox is the durable side of the adapter: the outbox of Bot API calls
// and the journal of updates not yet handled. Package store implements it.
type Outbox interface {
	Checkpoints
	OutboxAdd(ctx context.Context, e store.OutboxEntry) (int64, error)
	OutboxGet(ctx context.Context, id int64) (store.OutboxEntry, bool, error)
	OutboxPending(ctx context.Context, platform, bot string, limit int) ([]store.OutboxEntry, error)
	OutboxDone(ctx context.Context, id int64, result string) error
	OutboxRetry(ctx context.Context, id int64, next time.Time, lastErr string) error
	OutboxFail(ctx context.Context, id int64, lastErr string) error
	OutboxPrune(ctx context.Context, before time.Time) (int64, error)
	outbox.Journal
	InboundAdd(ctx context.Context, platform, bot string, updates []store.Inbound, checkpointKey, checkpointValue string) error
	InboundPending(ctx context.Context, platform, bot string) ([]store.Inbound, error)
	InboundHandled(platform, bot string, id int64)
}

var _ Outbox = (*store.DB)(nil)

// keepSent is how long sent calls stay in the outbox: their dedupe keys stop
// an update handled again after a crash from sending its actions twice, and
// the journal replays updates at the next start, so a day is ample.
const keepSent = 24 * time.Hour

// action is a Bot API call as the outbox stores it: everything needed to
// make it again after a restart.
type action struct {
	Kind       string `json:"kind"`
	Chat       int64  `json:"chat,omitempty"`
	Thread     int    `json:"thread,omitempty"`
	Group      bool   `json:"group,omitempty"`
	Text       string `json:"text,omitempty"`
	ReplyTo    string `json:"reply_to,omitempty"`
	MessageID  string `json:"message_id,omitempty"`
	Emoji      string `json:"emoji,omitempty"`
	CallbackID string `json:"callback_id,omitempty"`
	ShowAlert  bool   `json:"show_alert,omitempty"`
}

// job is one outbox entry waiting in its chat's queue. released is closed
// when the action that wrote it may return: once the call is made, refused,
// or held up (then the entry stays queued and is retried).
type job struct {
	id       int64
	act      action
	released chan struct{}
	once     sync.Once
	result   string
	err      error
}

func newJob(id int64, act action) *job {
	return &job{id: id, act: act, released: make(chan struct{})}
}

func (j *job) release(result string, err error) {
	j.once.Do(func() {
		j.result, j.err = result, err
		close(j.released)
	})
}

// courier makes one bot's outbox calls: one queue per chat, sent in order
// by a goroutine that lives while the queue has work, so chats proceed in
// parallel and each one's calls keep their order, across restarts too (the
// pending entries are queued first).
type courier struct {
	a   *Adapter
	b   *botRunner
	ctx context.Context // ends after every scope has ended

	mu    sync.Mutex
	chats map[int64]*chatQueue
	jobs  map[int64]*job // queued, by outbox id
	wg    sync.WaitGroup

	journalOnce sync.Once
}

type chatQueue struct {
	jobs    []*job
	running bool
	stalled error // the head's last failure, while it waits to be retried
}

func newCourier(ctx context.Context, a *Adapter, b *botRunner) *courier {
	return &courier{a: a, b: b, ctx: ctx, chats: make(map[int64]*chatQueue), jobs: make(map[int64]*job)}
}

// enqueue queues j behind its chat's earlier calls, or returns the job
// already queued for the same entry.
func (s *courier) enqueue(j *job) *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.jobs[j.id]; old != nil {
		return old
	}
	s.jobs[j.id] = j
	q := s.chats[j.act.Chat]
	if q == nil {
		q = &chatQueue{}
		s.chats[j.act.Chat] = q
	}
	q.jobs = append(q.jobs, j)
	if q.stalled != nil { // the chat is held: don't keep the consumer waiting
		j.release("", nil)
	}
	if !q.running {
		q.running = true
		s.wg.Go(func() { s.run(j.act.Chat, q) })
	}
	return j
}

// queued returns the queued job of an outbox entry, if any.
func (s *courier) queued(id int64) *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[id]
}

// run sends a chat's queue until it is empty or the courier stops.
func (s *courier) run(chat int64, q *chatQueue) {
	for {
		s.mu.Lock()
		if len(q.jobs) == 0 || s.ctx.Err() != nil {
			q.running = false
			if len(q.jobs) == 0 {
				delete(s.chats, chat)
			}
			s.mu.Unlock()
			return
		}
		j := q.jobs[0]
		s.mu.Unlock()
		if !s.attempt(q, j) {
			return // stopping: the entry stays pending for the next start
		}
	}
}

// attempt makes j's call within the limits and records the outcome; it
// returns false when the courier is stopping.
func (s *courier) attempt(q *chatQueue, j *job) bool {
	result, err := s.b.send(outbox.WithEntry(s.ctx, s.a.outbox, j.id, s.journalFailed), j.act)
	if err == nil {
		// The consumer goes on at once; committing the answer only has to
		// precede this chat's next call: the journal's R line stands for
		// it until then, should the hub die. It is committed even when the
		// sender is stopping, or a clean shutdown would make the call
		// again at the next start.
		s.journal(s.a.outbox.OutboxAnswered(j.id, result))
		j.release(result, nil)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), sendTimeout)
		s.record("done", j.id, s.a.outbox.OutboxDone(ctx, j.id, result))
		cancel()
		s.finish(q, j, result, nil)
		return true
	}
	s.journal(s.a.outbox.OutboxErrored(j.id))
	if s.ctx.Err() != nil {
		return false
	}
	switch {
	case !errors.Is(err, ErrRateLimited) && !transient(err):
		s.record("failure", j.id, s.a.outbox.OutboxFail(s.ctx, j.id, err.Error()))
		s.finish(q, j, "", err)
	default:
		// Held by a long retry_after, or failing for a while: keep it at
		// the head of its chat (later calls must not overtake it), free
		// every waiting consumer — the calls are durable and will be made,
		// so for them this is success — and try again later.
		next := s.b.limit.Until(j.act.call())
		if retry := time.Now().Add(ratelimit.MaxBackoff); !errors.Is(err, ErrRateLimited) && retry.After(next) {
			next = retry
		}
		s.record("retry", j.id, s.a.outbox.OutboxRetry(s.ctx, j.id, next, err.Error()))
		s.mu.Lock()
		q.stalled = err
		for _, w := range q.jobs {
			w.release("", nil)
		}
		s.mu.Unlock()
		s.a.log.Warn("call held in the outbox", "bot", s.b.cfg.Name, "chat", j.act.Chat, "until", next.Format(time.RFC3339), "err", err)
		if ratelimit.Sleep(s.ctx, time.Until(next)) != nil {
			return false
		}
	}
	return true
}

func (s *courier) finish(q *chatQueue, j *job, result string, err error) {
	s.mu.Lock()
	q.jobs = q.jobs[1:]
	q.stalled = nil
	delete(s.jobs, j.id)
	s.mu.Unlock()
	j.release(result, err)
}

func (s *courier) record(what string, id int64, err error) {
	if err != nil && s.ctx.Err() == nil {
		// The call's outcome is not durable: after a restart it is made
		// again (done) or retried at once (retry, failure).
		s.a.log.Warn("could not record an outbox "+what, "bot", s.b.cfg.Name, "id", id, "err", err)
	}
}

// journal logs, once per courier, that the attempt journal failed: calls
// then go on, but a crash may make the ones in flight again.
func (s *courier) journal(err error) {
	if err != nil {
		s.journalFailed(err)
	}
}

func (s *courier) journalFailed(err error) {
	s.journalOnce.Do(func() {
		s.a.log.Warn("attempt journal failed: a crash may repeat the calls in flight", "bot", s.b.cfg.Name, "err", err)
	})
}

// loadPending queues a bot's pending outbox entries, in id order, before
// the bot receives anything: what a crash left unsent goes first.
func (s *courier) loadPending(ctx context.Context) error {
	pending, err := s.a.outbox.OutboxPending(ctx, Platform, s.b.cfg.Name, 0)
	if err != nil {
		return err
	}
	for _, e := range pending {
		var act action
		if err := json.Unmarshal(e.Payload, &act); err != nil {
			s.a.log.Warn("unreadable outbox entry given up", "bot", s.b.cfg.Name, "id", e.ID, "err", err)
			s.record("failure", e.ID, s.a.outbox.OutboxFail(ctx, e.ID, "unreadable: "+err.Error()))
			continue
		}
		s.enqueue(newJob(e.ID, act))
	}
	if len(pending) > 0 {
		s.a.log.Info("sending calls left in the outbox", "bot", s.b.cfg.Name, "calls", len(pending))
	}
	return nil
}

// performDurably writes an action to the outbox (durable on return), then
// queues it and waits until it is made. An action that a replayed update
// repeats (same dedupe key) is not made again: it waits for, or returns
// the outcome of, the first one.
func (a *Adapter) performDurably(ctx context.Context, b *botRunner, scopeKey, kind, dedupe string, act action) (string, error) {
	payload, err := json.Marshal(act)
	if err != nil {
		return "", err
	}
	if dedupe != "" {
		// Update ids are per Telegram bot: if the token under this name
		// changes to another bot, its ids must not meet the old one's keys.
		dedupe = strconv.FormatInt(b.id, 10) + ":" + dedupe
	}
	id, err := a.outbox.OutboxAdd(ctx, store.OutboxEntry{
		Platform: Platform, Bot: b.cfg.Name, Scope: scopeKey, Kind: kind, Payload: payload, Dedupe: dedupe,
	})
	var j *job
	switch {
	case errors.Is(err, store.ErrDuplicate):
		if j = b.out.queued(id); j == nil {
			e, ok, err := a.outbox.OutboxGet(ctx, id)
			switch {
			case err != nil:
				return "", err
			case ok && e.Failed:
				return "", fmt.Errorf("refused before a restart: %s", e.LastError)
			case ok && !e.Pending():
				return e.Result, nil // made before a restart: not again
			}
			j = b.out.enqueue(newJob(id, act))
		}
	case err != nil:
		return "", err
	default:
		j = b.out.enqueue(newJob(id, act))
	}
	select {
	case <-j.released:
		return j.result, j.err
	case <-ctx.Done():
		return "", ctx.Err() // the call stays queued
	}
}
