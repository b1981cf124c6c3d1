package nats

import (
	"context"
	"sync"
	"time"

	"github.com/hubhq/hub/core/layer"
)

// queue buffers the messages of one channel received by this process.
type queue struct {
	items   []entry
	ready   chan struct{} // signalled (capacity 1) when items were added
	waiters int           // Receive calls and watchers keeping the queue
	kick    func()        // the watcher's, if any
}

// unused reports whether the queue can be forgotten.
func (q *queue) unused() bool { return len(q.items) == 0 && q.waiters == 0 }

type entry struct {
	msg     layer.Message
	expires time.Time
}

// sweepEvery is how many local operations pass between sweeps of expired
// messages, abandoned queues and expired memberships.
const sweepEvery = 1024

// queueFor returns a channel's queue, creating it. Callers hold mu.
func (l *Layer) queueFor(channel string) *queue {
	q := l.queues[channel]
	if q == nil {
		q = &queue{ready: make(chan struct{}, 1)}
		l.queues[channel] = q
	}
	return q
}

// push appends msg to a channel's queue unless it is full. Callers hold mu
// and count: Stats.Sent counts where a message is accepted, once.
func (l *Layer) push(channel string, msg layer.Message) bool {
	l.maybeSweep()
	q := l.queueFor(channel)
	l.dropExpired(q)
	if len(q.items) >= l.opts.CapacityFor(channel) {
		return false
	}
	q.items = append(q.items, entry{msg: msg, expires: time.Now().Add(l.opts.Expiry)})
	select {
	case q.ready <- struct{}{}:
	default:
	}
	if q.kick != nil {
		q.kick()
	}
	return true
}

// receiveLocal waits for the next message in a channel's queue.
func (l *Layer) receiveLocal(ctx context.Context, channel string) (layer.Message, error) {
	l.mu.Lock()
	q := l.queueFor(channel)
	q.waiters++
	defer func() {
		q.waiters--
		if q.unused() && l.queues[channel] == q {
			delete(l.queues, channel)
		}
		l.mu.Unlock()
	}()
	for {
		l.dropExpired(q)
		if len(q.items) > 0 {
			msg := q.items[0].msg
			q.items[0] = entry{}
			q.items = q.items[1:]
			if len(q.items) > 0 {
				select { // let another receiver of this channel go on
				case q.ready <- struct{}{}:
				default:
				}
			}
			return msg, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l.mu.Unlock()
		select {
		case <-q.ready:
			l.mu.Lock()
		case <-ctx.Done():
			l.mu.Lock()
		case <-l.closed:
			l.mu.Lock()
			return nil, ErrClosed
		}
	}
}

// dropExpired removes expired messages from the head of q. Callers hold mu.
func (l *Layer) dropExpired(q *queue) {
	now := time.Now()
	n := 0
	for n < len(q.items) && !now.Before(q.items[n].expires) {
		n++
	}
	if n > 0 {
		clear(q.items[:n])
		q.items = q.items[n:]
		l.expired.Add(int64(n))
	}
}

// maybeSweep drops expired messages, empty unwatched queues and expired
// memberships every sweepEvery operations. Callers hold mu.
func (l *Layer) maybeSweep() {
	if l.ops++; l.ops < sweepEvery {
		return
	}
	l.ops = 0
	for name, q := range l.queues {
		l.dropExpired(q)
		if q.unused() {
			delete(l.queues, name)
		}
	}
	for group := range l.groups {
		l.liveMembers(group)
	}
}

// Watch says when one of this process' own process-local channels (from
// NewChannel) has a message: kick is called, with the layer's lock held,
// for every message that arrives until stop is called, and at once if one
// is waiting. It is the runtime's alternative to a goroutine parked in
// Receive. Other channels are never kicked: read them with Receive.
func (l *Layer) Watch(channel string, kick func()) (stop func()) {
	if !l.own(channel) {
		return func() {}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queueFor(channel)
	q.waiters++
	q.kick = kick
	if len(q.items) > 0 {
		kick()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			q.waiters--
			q.kick = nil
			if q.unused() && l.queues[channel] == q {
				delete(l.queues, channel)
			}
		})
	}
}

// TryReceive returns a channel's next message without waiting; with Watch
// it replaces Receive.
func (l *Layer) TryReceive(channel string) (layer.Message, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queues[channel]
	if q == nil {
		return nil, false
	}
	l.dropExpired(q)
	if len(q.items) == 0 {
		return nil, false
	}
	msg := q.items[0].msg
	q.items[0] = entry{}
	q.items = q.items[1:]
	if q.unused() {
		delete(l.queues, channel)
	}
	return msg, true
}
