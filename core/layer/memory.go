package layer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Memory is the in-process channel layer, the embedded default. It keeps
// Channels' semantics (capacity, expiry, group expiry, FIFO) for instances of
// one hub process; use a distributed backend to span processes.
type Memory struct {
	opts Options
	now  func() time.Time

	mu       sync.Mutex
	channels map[string]*queue
	groups   map[string]map[string]time.Time // group → channel → joined at
	ops      int                             // operations since the last sweep

	sent, full, groupDrop, expired atomic.Int64
}

type queue struct {
	items   []entry
	ready   chan struct{} // signalled (capacity 1) when items were added
	waiters int           // Receive calls and watchers keeping the queue
	kick    func()        // the watcher's, if any
}

// unused reports whether the queue can be forgotten.
func (q *queue) unused() bool { return len(q.items) == 0 && q.waiters == 0 }

type entry struct {
	msg     Message
	expires time.Time
}

// sweepEvery is how many operations pass between sweeps of expired messages
// and memberships, so abandoned channels cannot grow memory without bound.
const sweepEvery = 1024

// NewMemory returns an in-memory layer with the given options (zero fields
// take Channels' defaults).
func NewMemory(opts Options) *Memory {
	return &Memory{
		opts:     opts.WithDefaults(),
		now:      time.Now,
		channels: make(map[string]*queue),
		groups:   make(map[string]map[string]time.Time),
	}
}

// Send implements Layer.
func (m *Memory) Send(ctx context.Context, channel string, msg Message) error {
	if err := ValidChannelName(channel); err != nil {
		return err
	}
	if err := ValidMessage(msg); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep()
	if !m.push(channel, msg) {
		m.full.Add(1)
		return fmt.Errorf("%w: %s", ErrChannelFull, channel)
	}
	return nil
}

// push appends msg to a channel's queue unless it is full. Callers hold mu.
func (m *Memory) push(channel string, msg Message) bool {
	q := m.queue(channel)
	m.dropExpired(q)
	if len(q.items) >= m.opts.CapacityFor(channel) {
		return false
	}
	q.items = append(q.items, entry{msg: msg, expires: m.now().Add(m.opts.Expiry)})
	m.sent.Add(1)
	select {
	case q.ready <- struct{}{}:
	default:
	}
	if q.kick != nil {
		q.kick()
	}
	return true
}

// queue returns a channel's queue, creating it. Callers hold mu.
func (m *Memory) queue(channel string) *queue {
	q := m.channels[channel]
	if q == nil {
		q = &queue{ready: make(chan struct{}, 1)}
		m.channels[channel] = q
	}
	return q
}

// Watch implements Watcher.
func (m *Memory) Watch(channel string, kick func()) (stop func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queue(channel)
	q.waiters++
	q.kick = kick
	if len(q.items) > 0 {
		kick()
	}
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		q.waiters--
		q.kick = nil
		if q.unused() && m.channels[channel] == q {
			delete(m.channels, channel)
		}
	}
}

// TryReceive implements Watcher.
func (m *Memory) TryReceive(channel string) (Message, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.channels[channel]
	if q == nil {
		return nil, false
	}
	m.dropExpired(q)
	if len(q.items) == 0 {
		return nil, false
	}
	msg := q.items[0].msg
	q.items[0] = entry{}
	q.items = q.items[1:]
	if q.unused() {
		delete(m.channels, channel)
	}
	return msg, true
}

// Receive implements Layer.
func (m *Memory) Receive(ctx context.Context, channel string) (Message, error) {
	if err := ValidChannelName(channel); err != nil {
		return nil, err
	}
	m.mu.Lock()
	q := m.queue(channel)
	q.waiters++
	defer func() {
		q.waiters--
		if q.unused() && m.channels[channel] == q {
			delete(m.channels, channel) // nothing left to keep: free it
		}
		m.mu.Unlock()
	}()
	for {
		m.dropExpired(q)
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
		m.mu.Unlock()
		select {
		case <-q.ready:
			m.mu.Lock()
		case <-ctx.Done():
			m.mu.Lock()
			return nil, ctx.Err()
		}
	}
}

// dropExpired removes expired messages from the head of q. Callers hold mu.
func (m *Memory) dropExpired(q *queue) {
	now := m.now()
	n := 0
	for n < len(q.items) && !now.Before(q.items[n].expires) {
		n++
	}
	if n > 0 {
		clear(q.items[:n])
		q.items = q.items[n:]
		m.expired.Add(int64(n))
	}
}

// NewChannel implements Layer. The name is prefix + "." + a random
// identifier + "!", matching the shape of Channels' process-local names.
func (m *Memory) NewChannel(ctx context.Context, prefix string) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("layer: new channel: %w", err)
	}
	name := prefix + "." + hex.EncodeToString(b[:]) + "!"
	return name, ValidChannelName(name)
}

// GroupAdd implements Layer.
func (m *Memory) GroupAdd(ctx context.Context, group, channel string) error {
	if err := ValidGroupName(group); err != nil {
		return err
	}
	if err := ValidChannelName(channel); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep()
	members := m.groups[group]
	if members == nil {
		members = make(map[string]time.Time)
		m.groups[group] = members
	}
	members[channel] = m.now()
	return nil
}

// GroupDiscard implements Layer.
func (m *Memory) GroupDiscard(ctx context.Context, group, channel string) error {
	if err := ValidGroupName(group); err != nil {
		return err
	}
	if err := ValidChannelName(channel); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if members := m.groups[group]; members != nil {
		delete(members, channel)
		if len(members) == 0 {
			delete(m.groups, group)
		}
	}
	return nil
}

// GroupSend implements Layer.
func (m *Memory) GroupSend(ctx context.Context, group string, msg Message) error {
	if err := ValidGroupName(group); err != nil {
		return err
	}
	if err := ValidMessage(msg); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep()
	cutoff := m.now().Add(-m.opts.GroupExpiry)
	for channel, joined := range m.groups[group] {
		if joined.Before(cutoff) {
			delete(m.groups[group], channel)
			continue
		}
		if !m.push(channel, msg) {
			m.groupDrop.Add(1)
		}
	}
	return nil
}

// Flush implements Layer.
func (m *Memory) Flush(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, q := range m.channels {
		clear(q.items)
		q.items = nil
	}
	clear(m.groups)
	return nil
}

// Close implements Layer; the memory layer holds nothing to release.
func (m *Memory) Close() error { return nil }

// Stats implements StatsReporter.
func (m *Memory) Stats() Stats {
	return Stats{Sent: m.sent.Load(), Full: m.full.Load(), GroupDrop: m.groupDrop.Load(), Expired: m.expired.Load()}
}

// Size reports how many channels and groups the layer holds; tests use it to
// prove that nothing is left behind.
func (m *Memory) Size() (channels, groups int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.channels), len(m.groups)
}

// maybeSweep drops expired messages, empty unwatched channels and expired
// memberships every sweepEvery operations. Callers hold mu.
func (m *Memory) maybeSweep() {
	if m.ops++; m.ops < sweepEvery {
		return
	}
	m.ops = 0
	for name, q := range m.channels {
		m.dropExpired(q)
		if q.unused() {
			delete(m.channels, name)
		}
	}
	cutoff := m.now().Add(-m.opts.GroupExpiry)
	for group, members := range m.groups {
		for channel, joined := range members {
			if joined.Before(cutoff) {
				delete(members, channel)
			}
		}
		if len(members) == 0 {
			delete(m.groups, group)
		}
	}
}
