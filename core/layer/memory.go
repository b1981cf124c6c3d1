package layer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubhq/hub/core/layer/internal/localq"
)

// Memory is the in-process channel layer, the embedded default. It keeps
// Channels' semantics (capacity, expiry, group expiry, FIFO) for instances of
// one hub process; use a distributed backend to span processes.
type Memory struct {
	opts Options
	now  func() time.Time

	mu       sync.Mutex
	channels *localq.Queues[Message]
	groups   map[string]map[string]time.Time // group → channel → joined at

	sent, full, groupDrop, expired atomic.Int64
}

// NewMemory returns an in-memory layer with the given options (zero fields
// take Channels' defaults).
func NewMemory(opts Options) *Memory {
	m := &Memory{
		opts:   opts.WithDefaults(),
		now:    time.Now,
		groups: make(map[string]map[string]time.Time),
	}
	m.channels = localq.New[Message](&m.mu, localq.Config{
		Capacity: m.opts.CapacityFor,
		Expiry:   m.opts.Expiry,
		Now:      func() time.Time { return m.now() }, // tests replace m.now
		Expired:  &m.expired,
	})
	return m
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
	if !m.channels.Push(channel, msg, m.now()) {
		return false
	}
	m.sent.Add(1)
	return true
}

// Watch implements Watcher.
func (m *Memory) Watch(channel string, kick func()) (stop func()) {
	return m.channels.Watch(channel, kick)
}

// TryReceive implements Watcher.
func (m *Memory) TryReceive(channel string) (Message, bool) {
	return m.channels.TryReceive(channel)
}

// Receive implements Layer.
func (m *Memory) Receive(ctx context.Context, channel string) (Message, error) {
	if err := ValidChannelName(channel); err != nil {
		return nil, err
	}
	return m.channels.Receive(ctx, channel)
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
	m.channels.Clear()
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
	return m.channels.Len(), len(m.groups)
}

// maybeSweep drops expired messages, empty unwatched channels and expired
// memberships every so many operations (see localq), so abandoned channels
// and groups cannot grow memory without bound. Callers hold mu.
func (m *Memory) maybeSweep() {
	if !m.channels.MaybeSweep() {
		return
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
