package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubhq/hub/adapters/ratelimit"
	"github.com/hubhq/hub/adapters/relay"
	"github.com/hubhq/hub/store"
)

// Store is the durable side of a courier: the store's outbox and attempt
// journal. *store.DB implements it.
type Store interface {
	OutboxAdd(ctx context.Context, e store.OutboxEntry) (int64, error)
	OutboxGet(ctx context.Context, id int64) (store.OutboxEntry, bool, error)
	OutboxPending(ctx context.Context, platform, bot string, limit int) ([]store.OutboxEntry, error)
	OutboxDone(ctx context.Context, id int64, result string) error
	OutboxRetry(ctx context.Context, id int64, next time.Time, lastErr string) error
	OutboxFail(ctx context.Context, id int64, lastErr string) error
	OutboxPrune(ctx context.Context, before time.Time) (int64, error)
	Journal
}

var _ Store = (*store.DB)(nil)

// Keep is how long sent calls stay in the outbox: their dedupe keys stop
// an event handled again (redelivered, or replayed after a crash) from
// making its calls twice, and that happens within minutes.
const Keep = 24 * time.Hour

// Prune deletes the calls made or given up on more than Keep ago.
func Prune(ctx context.Context, s Store) error {
	_, err := s.OutboxPrune(ctx, time.Now().Add(-Keep))
	return err
}

// Start prunes the store's old calls, then has open make an adapter's
// couriers, one per bot, on a context that outlives ctx, and queues the
// calls a crash left unsent. stop ends the couriers and waits for the calls
// they are making; call it after the scopes ended, so their last words (a
// farewell on shutdown) still go out.
func Start[A any](ctx context.Context, s Store, log *slog.Logger, open func(ctx context.Context) []*Courier[A]) (stop func(), err error) {
	sendCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := Prune(ctx, s); err != nil {
		log.Warn("could not prune the outbox", "err", err)
	}
	couriers := open(sendCtx)
	stop = func() {
		cancel()
		for _, c := range couriers {
			c.Wait()
		}
	}
	for _, c := range couriers {
		if err := c.LoadPending(ctx); err != nil {
			return stop, fmt.Errorf("%s: bot %q: outbox: %w", c.cfg.Platform, c.cfg.Bot, err)
		}
	}
	return stop, nil
}

// recordTimeout bounds committing a call's answer, which is done even when
// the courier is stopping.
const recordTimeout = 30 * time.Second

// Config is what a courier needs from its adapter, for one bot. Actions
// (A) are stored as JSON objects: they must hold everything needed to make
// the call again after a restart, and no field named hub_id (the courier
// stores a Call's HubID there).
type Config[A any] struct {
	Platform, Bot string
	Store         Store
	Log           *slog.Logger
	// Links, if set, is where the copies of hub messages are linked (see
	// Call.HubID).
	Links relay.Links
	// Send makes act's call, within the platform's limits, and returns
	// what a consumer may need from the answer: the new message's id. Its
	// ctx carries the outbox entry: requests made with it through a
	// Transport are journaled. Its errors must not hold the bot's token.
	Send func(ctx context.Context, act A) (string, error)
	// Queue names the conversation act belongs to: a queue's calls are
	// made one at a time, in the order they were written.
	Queue func(act A) string
	// RetryAt says when a call that failed with err may be made again, or
	// false if never (the platform refused it): the error then goes to the
	// consumer. ratelimit.Limiter.RetryAt answers it.
	RetryAt func(act A, err error) (time.Time, bool)
}

// Courier makes one bot's outbox calls: one queue per conversation, sent in
// order by a goroutine that lives while the queue has work, so
// conversations proceed in parallel and each one's calls keep their order,
// across restarts too (LoadPending queues what a crash left first).
type Courier[A any] struct {
	cfg Config[A]
	ctx context.Context // no attempt starts once it ends

	mu     sync.Mutex
	queues map[string]*queue[A]
	jobs   map[int64]*job[A] // queued, by outbox id
	wg     sync.WaitGroup

	// idle hands a queue to a runner that finished its own (see runner).
	idle    chan func()
	waiting atomic.Int32 // runners parked on idle

	journalOnce sync.Once
}

type queue[A any] struct {
	jobs    []*job[A]
	running bool
	stalled error // the head's last failure, while it waits to be retried
}

// job is one outbox entry waiting in its queue. released is closed when
// the action that wrote it may return: once the call is made, refused, or
// held up (then the entry stays queued and is retried).
type job[A any] struct {
	id       int64
	act      A
	link     link
	held     time.Time // not to be tried before: a retry_after a restart cut short
	heldBy   error
	released chan struct{}
	once     sync.Once
	result   string
	err      error
}

func newJob[A any](id int64, act A, l link) *job[A] {
	return &job[A]{id: id, act: act, link: l, released: make(chan struct{})}
}

// Call says where an action goes and what it stands for.
type Call struct {
	Scope  string // the conversation's scope key
	Kind   string // the action's type ("chat.send")
	Dedupe string // the key of the action by the event handled, or ""
	// HubID, if set, names the hub message the call sends a copy of: once
	// it is made — held, or after a restart, too — its result (the new
	// message's id) is linked to the hub message in the conversation, in
	// Config.Links.
	HubID string
}

// link is what a made call is linked as: a copy of hubID in scope.
type link struct{ scope, hubID string }

// linkField is the payload's field that holds a Call's HubID: in the
// stored call, so that it is linked when made after a restart too.
const linkField = "hub_id"

// encode is act as stored, with the call's HubID, if any.
func encode[A any](act A, hubID string) ([]byte, error) {
	payload, err := json.Marshal(act)
	if err != nil || hubID == "" {
		return payload, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return nil, fmt.Errorf("an action with a hub id must be a JSON object: %w", err)
	}
	if fields[linkField], err = json.Marshal(hubID); err != nil {
		return nil, err
	}
	return json.Marshal(fields)
}

// decode reads a stored payload back into its action and HubID.
func decode[A any](payload []byte) (act A, hubID string, err error) {
	if err = json.Unmarshal(payload, &act); err != nil {
		return act, "", err
	}
	var l map[string]json.RawMessage
	if json.Unmarshal(payload, &l) == nil && l[linkField] != nil {
		err = json.Unmarshal(l[linkField], &hubID)
	}
	return act, hubID, err
}

func (j *job[A]) release(result string, err error) {
	j.once.Do(func() {
		j.result, j.err = result, err
		close(j.released)
	})
}

// New makes a courier that sends until ctx ends; then no new attempt
// starts (calls on the wire are waited for), and Wait returns once every
// queue has stopped. Entries left are sent at the next start.
func New[A any](ctx context.Context, cfg Config[A]) *Courier[A] {
	return &Courier[A]{cfg: cfg, ctx: ctx, queues: make(map[string]*queue[A]), jobs: make(map[int64]*job[A]), idle: make(chan func())}
}

// Wait waits for the courier's queues to stop, after its ctx ended.
func (c *Courier[A]) Wait() { c.wg.Wait() }

// LoadPending queues the bot's pending outbox entries, in id order: called
// before the bot receives anything, what a crash left unsent goes first.
func (c *Courier[A]) LoadPending(ctx context.Context) error {
	pending, err := c.cfg.Store.OutboxPending(ctx, c.cfg.Platform, c.cfg.Bot, 0)
	if err != nil {
		return err
	}
	for _, e := range pending {
		act, hubID, err := decode[A](e.Payload)
		if err != nil {
			c.cfg.Log.Warn("unreadable outbox entry given up", "bot", c.cfg.Bot, "id", e.ID, "err", err)
			c.record("failure", e.ID, c.cfg.Store.OutboxFail(ctx, e.ID, "unreadable: "+err.Error()))
			continue
		}
		j := newJob(e.ID, act, link{scope: e.Scope, hubID: hubID})
		if e.NextAttempt.After(time.Now()) {
			j.held, j.heldBy = e.NextAttempt, errors.New(e.LastError)
		}
		c.enqueue(j)
	}
	if len(pending) > 0 {
		c.cfg.Log.Info("sending calls left in the outbox", "bot", c.cfg.Bot, "calls", len(pending))
	}
	return nil
}

// Do writes an action to the outbox (durable on return), then queues it
// and waits until it is made, refused or held up (then it returns "" and
// no error: the call will be made, and linked then if it has a HubID). An
// action whose dedupe key was written before — by an event handled again —
// is not made again: Do waits for, or returns the outcome of, the first
// one.
func (c *Courier[A]) Do(ctx context.Context, call Call, act A) (string, error) {
	payload, err := encode(act, call.HubID)
	if err != nil {
		return "", err
	}
	id, err := c.cfg.Store.OutboxAdd(ctx, store.OutboxEntry{
		Platform: c.cfg.Platform, Bot: c.cfg.Bot, Scope: call.Scope, Kind: call.Kind, Payload: payload, Dedupe: call.Dedupe,
	})
	l := link{scope: call.Scope, hubID: call.HubID}
	var j *job[A]
	switch {
	case errors.Is(err, store.ErrDuplicate):
		if j = c.queued(id); j == nil {
			e, ok, err := c.cfg.Store.OutboxGet(ctx, id)
			switch {
			case err != nil:
				return "", err
			case ok && e.Failed:
				return "", fmt.Errorf("refused before a restart: %s", e.LastError)
			case ok && !e.Pending():
				return e.Result, nil // made before: not again
			}
			j = c.enqueue(newJob(id, act, l))
		}
	case err != nil:
		return "", err
	default:
		j = c.enqueue(newJob(id, act, l))
	}
	select {
	case <-j.released:
		return j.result, j.err
	case <-ctx.Done():
		return "", ctx.Err() // the call stays queued
	}
}

// enqueue queues j behind its conversation's earlier calls, or returns the
// job already queued for the same entry.
func (c *Courier[A]) enqueue(j *job[A]) *job[A] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.jobs[j.id]; old != nil {
		return old
	}
	c.jobs[j.id] = j
	name := c.cfg.Queue(j.act)
	q := c.queues[name]
	if q == nil {
		q = &queue[A]{}
		c.queues[name] = q
	}
	q.jobs = append(q.jobs, j)
	if q.stalled != nil { // the queue is held: don't keep the consumer waiting
		j.release("", nil)
	}
	if !q.running {
		q.running = true
		c.start(func() { c.run(name, q) })
	}
	return j
}

// maxIdle is how many runners wait for a queue to send once theirs is
// empty.
const maxIdle = 16

// start has a runner send a queue: one parked on idle if there is one, else
// a new one.
func (c *Courier[A]) start(send func()) {
	select {
	case c.idle <- send:
	default:
		c.wg.Go(func() { c.runner(send) })
	}
}

// runner sends a queue, then waits for another one (up to maxIdle runners
// wait) until the courier stops. A call goes through deep stacks (the
// platform's client, net/http, the journal): a runner that sends call after
// call grows its stack once, where a goroutine per queue grew one every
// time a chat's queue had run empty in between — 2 % of the CPU in P7.
func (c *Courier[A]) runner(send func()) {
	for {
		send()
		if c.waiting.Add(1) > maxIdle {
			c.waiting.Add(-1)
			return
		}
		select {
		case send = <-c.idle:
			c.waiting.Add(-1)
		case <-c.ctx.Done():
			c.waiting.Add(-1)
			return
		}
	}
}

// queued returns the queued job of an outbox entry, if any.
func (c *Courier[A]) queued(id int64) *job[A] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jobs[id]
}

// run sends a queue until it is empty or the courier stops.
func (c *Courier[A]) run(name string, q *queue[A]) {
	for {
		c.mu.Lock()
		if len(q.jobs) == 0 || c.ctx.Err() != nil {
			q.running = false
			if len(q.jobs) == 0 {
				delete(c.queues, name)
			}
			c.mu.Unlock()
			return
		}
		j := q.jobs[0]
		c.mu.Unlock()
		if !c.attempt(name, q, j) {
			return // stopping: the entry stays pending for the next start
		}
	}
}

// attempt makes j's call and records the outcome; it returns false when
// the courier is stopping.
func (c *Courier[A]) attempt(name string, q *queue[A], j *job[A]) bool {
	if time.Now().Before(j.held) {
		return c.hold(name, q, j.held, j.heldBy)
	}
	result, err := c.cfg.Send(withEntry(c.ctx, c.cfg.Store, j.id, c.journalFailed), j.act)
	if err == nil {
		// The consumer goes on at once; committing the answer only has to
		// precede the queue's next call: the journal's R line stands for
		// it until then, should the hub die. It is committed even when the
		// courier is stopping, or a clean shutdown would make the call
		// again at the next start.
		c.journal(c.cfg.Store.OutboxAnswered(j.id, result))
		if j.link.hubID != "" {
			// Before the consumer goes on, as a copy sent at once was: by
			// then its edits find it. Here, once, whether the consumer
			// still waits or was freed by a hold, or the call was left by
			// a restart.
			relay.Link(c.ctx, c.cfg.Links, c.cfg.Log.With("bot", c.cfg.Bot), j.link.scope, j.link.hubID, result)
		}
		j.release(result, nil)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), recordTimeout)
		c.record("done", j.id, c.cfg.Store.OutboxDone(ctx, j.id, result))
		cancel()
		c.finish(q, j, result, nil)
		return true
	}
	c.journal(c.cfg.Store.OutboxErrored(j.id))
	if c.ctx.Err() != nil {
		return false
	}
	next, retry := c.cfg.RetryAt(j.act, err)
	if !retry {
		c.record("failure", j.id, c.cfg.Store.OutboxFail(c.ctx, j.id, err.Error()))
		c.finish(q, j, "", err)
		return true
	}
	c.record("retry", j.id, c.cfg.Store.OutboxRetry(c.ctx, j.id, next, err.Error()))
	return c.hold(name, q, next, err)
}

// hold keeps a queue's head, held by a long retry_after or failing for a
// while, until it may be tried again: at the head (later calls must not
// overtake it), with every waiting consumer freed — the calls are durable
// and will be made, so for them this is success. It returns false when the
// courier is stopping.
func (c *Courier[A]) hold(name string, q *queue[A], until time.Time, err error) bool {
	c.mu.Lock()
	q.stalled = err
	for _, w := range q.jobs {
		w.release("", nil)
	}
	c.mu.Unlock()
	c.cfg.Log.Warn("call held in the outbox", "bot", c.cfg.Bot, "queue", name, "until", until.Format(time.RFC3339), "err", err)
	return ratelimit.Sleep(c.ctx, time.Until(until)) == nil
}

func (c *Courier[A]) finish(q *queue[A], j *job[A], result string, err error) {
	c.mu.Lock()
	q.jobs = q.jobs[1:]
	q.stalled = nil
	delete(c.jobs, j.id)
	c.mu.Unlock()
	j.release(result, err)
}

func (c *Courier[A]) record(what string, id int64, err error) {
	if err != nil && c.ctx.Err() == nil {
		// The call's outcome is not durable: after a restart it is made
		// again (done) or retried at once (retry, failure).
		c.cfg.Log.Warn("could not record an outbox "+what, "bot", c.cfg.Bot, "id", id, "err", err)
	}
}

// journal logs, once per courier, that the attempt journal failed: calls
// go on, but a crash may make the ones in flight again.
func (c *Courier[A]) journal(err error) {
	if err != nil {
		c.journalFailed(err)
	}
}

func (c *Courier[A]) journalFailed(err error) {
	c.journalOnce.Do(func() {
		c.cfg.Log.Warn("attempt journal failed: a crash may repeat the calls in flight", "bot", c.cfg.Bot, "err", err)
	})
}
