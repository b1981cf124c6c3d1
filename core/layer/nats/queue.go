package nats

import (
	"time"

	"github.com/hubhq/hub/core/layer"
)

// The messages this process holds, for its own process-local channels and
// the fixed-name channels it receives on, wait in l.queues (package localq,
// shared with the other layers): bounded per receiving process, expiring
// from their arrival here.

// push appends msg to a channel's queue unless it is full. Callers hold mu
// and count: Stats.Sent counts where a message is accepted, once.
func (l *Layer) push(channel string, msg layer.Message) bool {
	l.maybeSweep()
	return l.queues.Push(channel, msg, time.Now())
}

// maybeSweep drops expired messages, empty unwatched queues and expired
// memberships every so many local operations. Callers hold mu.
func (l *Layer) maybeSweep() {
	if !l.queues.MaybeSweep() {
		return
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
	return l.queues.Watch(channel, kick)
}

// TryReceive returns a channel's next message without waiting; with Watch
// it replaces Receive.
func (l *Layer) TryReceive(channel string) (layer.Message, bool) {
	return l.queues.TryReceive(channel)
}
