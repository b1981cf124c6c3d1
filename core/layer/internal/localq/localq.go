// Package localq is the process-local half of every channel layer: bounded,
// expiring, FIFO queues of one process' channels, with blocking Receive,
// TryReceive and Watch (layer.Watcher) on top, and a periodic sweep so
// abandoned channels cannot grow memory without bound.
//
// The Memory layer holds every channel in these queues; the Redis and NATS
// layers fan the messages that reach this process out into them. What a full
// queue means is the caller's to say: Push only reports it (Memory and a
// local Send answer ErrChannelFull, a group delivery counts GroupDrop).
//
// The queues share their owner's mutex rather than having one of their own,
// so a layer can deliver one group message to several channels, or sweep its
// groups with its channels, under one lock, and a watcher's kick runs with
// the layer's lock held as layer.Watcher documents.
package localq

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// sweepEvery is how many operations pass between sweeps of expired
// messages and abandoned queues.
const sweepEvery = 1024

// Config says how a Queues bounds, ages and closes its channels.
type Config struct {
	// Capacity is how many messages a channel holds.
	Capacity func(channel string) int
	// Expiry is how long an undelivered message lives after it was sent.
	Expiry time.Duration
	// Now is the clock (default time.Now); Memory's tests move it.
	Now func() time.Time
	// Expired counts messages dropped because they expired.
	Expired *atomic.Int64
	// Closed, when closed, makes waiting Receives return ErrClosed (nil:
	// never).
	Closed <-chan struct{}
	// ErrClosed is what Receive returns once Closed is closed.
	ErrClosed error
}

// Queues are the queues of one process' channels, guarded by the owner's
// mutex: methods whose doc says "callers hold mu" expect it held, the others
// take it.
type Queues[M any] struct {
	mu     *sync.Mutex
	cfg    Config
	queues map[string]*queue[M]
	ops    int // operations since the last sweep
}

type queue[M any] struct {
	items   []entry[M]
	ready   chan struct{} // signalled (capacity 1) when items were added
	waiters int           // Receive calls and watchers keeping the queue
	kick    func()        // the watcher's, if any
}

// unused reports whether the queue can be forgotten.
func (q *queue[M]) unused() bool { return len(q.items) == 0 && q.waiters == 0 }

type entry[M any] struct {
	msg     M
	expires time.Time
}

// New returns empty queues guarded by mu.
func New[M any](mu *sync.Mutex, cfg Config) *Queues[M] {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Expired == nil {
		cfg.Expired = new(atomic.Int64)
	}
	return &Queues[M]{mu: mu, cfg: cfg, queues: make(map[string]*queue[M])}
}

// queue returns a channel's queue, creating it. Callers hold mu.
func (s *Queues[M]) queue(channel string) *queue[M] {
	q := s.queues[channel]
	if q == nil {
		q = &queue[M]{ready: make(chan struct{}, 1)}
		s.queues[channel] = q
	}
	return q
}

// forget drops a channel's queue if nothing keeps it and it is still the
// one in the map. Callers hold mu.
func (s *Queues[M]) forget(channel string, q *queue[M]) {
	if q.unused() && s.queues[channel] == q {
		delete(s.queues, channel)
	}
}

// Push appends msg, sent at sent, to a channel's queue unless it is full,
// wakes a receiver and kicks the watcher. It counts nothing but expiries:
// where a message counts as sent, or as dropped when full, differs by
// layer. Callers hold mu.
func (s *Queues[M]) Push(channel string, msg M, sent time.Time) bool {
	q := s.queue(channel)
	s.dropExpired(q)
	if len(q.items) >= s.cfg.Capacity(channel) {
		return false
	}
	q.items = append(q.items, entry[M]{msg: msg, expires: sent.Add(s.cfg.Expiry)})
	signal(q.ready)
	if q.kick != nil {
		q.kick()
	}
	return true
}

// pop takes the head of q, which has items. Callers hold mu.
func (q *queue[M]) pop() M {
	msg := q.items[0].msg
	q.items[0] = entry[M]{}
	q.items = q.items[1:]
	return msg
}

// Receive waits for the next message on a channel. A message already
// waiting is returned even when ctx is done.
func (s *Queues[M]) Receive(ctx context.Context, channel string) (M, error) {
	s.mu.Lock()
	q := s.queue(channel)
	q.waiters++
	defer func() {
		q.waiters--
		s.forget(channel, q) // nothing left to keep: free it
		s.mu.Unlock()
	}()
	for {
		s.dropExpired(q)
		if len(q.items) > 0 {
			msg := q.pop()
			if len(q.items) > 0 {
				signal(q.ready) // let another receiver of this channel go on
			}
			return msg, nil
		}
		var zero M
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		s.mu.Unlock()
		select {
		case <-q.ready:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
		case <-s.cfg.Closed:
			s.mu.Lock()
			return zero, s.cfg.ErrClosed
		}
	}
}

// TryReceive returns a channel's next message without waiting.
func (s *Queues[M]) TryReceive(channel string) (M, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero M
	q := s.queues[channel]
	if q == nil {
		return zero, false
	}
	s.dropExpired(q)
	if len(q.items) == 0 {
		return zero, false
	}
	msg := q.pop()
	s.forget(channel, q)
	return msg, true
}

// Watch calls kick, with mu held, for every message pushed to channel until
// stop is called, and at once if one is waiting. The queue is kept while
// watched. Calling stop again does nothing.
func (s *Queues[M]) Watch(channel string, kick func()) (stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue(channel)
	q.waiters++
	q.kick = kick
	if len(q.items) > 0 {
		kick()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			q.waiters--
			q.kick = nil
			s.forget(channel, q)
		})
	}
}

// dropExpired removes expired messages from the head of q. Callers hold mu.
func (s *Queues[M]) dropExpired(q *queue[M]) {
	now := s.cfg.Now()
	n := 0
	for n < len(q.items) && !now.Before(q.items[n].expires) {
		n++
	}
	if n > 0 {
		clear(q.items[:n])
		q.items = q.items[n:]
		s.cfg.Expired.Add(int64(n))
	}
}

// MaybeSweep counts one operation and, every sweepEvery of them, drops
// expired messages and empty unwatched queues and reports true, so the
// caller sweeps its own state (expired group memberships) at the same pace.
// Callers hold mu.
func (s *Queues[M]) MaybeSweep() bool {
	if s.ops++; s.ops < sweepEvery {
		return false
	}
	s.ops = 0
	for name, q := range s.queues {
		s.dropExpired(q)
		s.forget(name, q)
	}
	return true
}

// Clear empties every queue; waiting receivers and watchers stay. Callers
// hold mu.
func (s *Queues[M]) Clear() {
	for _, q := range s.queues {
		clear(q.items)
		q.items = nil
	}
}

// Len is how many channels have a queue. Callers hold mu.
func (s *Queues[M]) Len() int { return len(s.queues) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
