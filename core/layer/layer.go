package layer

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// Layer is the channel layer API. All methods are safe for concurrent use.
type Layer interface {
	// Send puts msg on a channel. It fails with ErrChannelFull when the
	// channel already holds its capacity.
	Send(ctx context.Context, channel string, msg Message) error
	// Receive waits for the next message on a channel, oldest first.
	Receive(ctx context.Context, channel string) (Message, error)
	// NewChannel returns a fresh, unique channel name that starts with prefix
	// ("specific" by convention) and that Receive on this process can read.
	NewChannel(ctx context.Context, prefix string) (string, error)
	// GroupAdd adds a channel to a group, refreshing its expiry.
	GroupAdd(ctx context.Context, group, channel string) error
	// GroupDiscard removes a channel from a group; removing a non-member is fine.
	GroupDiscard(ctx context.Context, group, channel string) error
	// GroupSend sends msg to every member of the group. A full member is
	// skipped and counted, never an error.
	GroupSend(ctx context.Context, group string, msg Message) error
	// Flush empties every channel and group of this layer.
	Flush(ctx context.Context) error
	// Close releases the layer's connections and goroutines.
	Close() error
}

// Message is one channel-layer message: a map with a string "type" key, such
// as {"type": "chat.message", "text": "hi"}. It is a core.Event, so it can sit
// in an instance's inbox beside protocol events.
type Message map[string]any

// Type returns the message's "type" value, or "" if it has none.
func (m Message) Type() string {
	t, _ := m["type"].(string)
	return t
}

// Errors a caller may branch on.
var (
	ErrChannelFull = errors.New("layer: channel full")
	ErrInvalidName = errors.New("layer: invalid name")
	ErrNoType      = errors.New(`layer: message has no "type"`)
)

// Defaults taken from Django Channels.
const (
	DefaultCapacity    = 100
	DefaultExpiry      = 60 * time.Second
	DefaultGroupExpiry = 86400 * time.Second
	// MaxNameLength is Channels' limit on channel and group names.
	MaxNameLength = 100
)

// Options are the settings every backend shares. The zero value means
// Channels' defaults.
type Options struct {
	// Capacity is how many messages a channel holds (default 100).
	Capacity int
	// ChannelCapacity overrides Capacity for channel names matching a glob
	// pattern (path.Match syntax), such as {"http.request": 200, "specific.*": 20}.
	ChannelCapacity map[string]int
	// Expiry is how long an undelivered message lives (default 60 s).
	Expiry time.Duration
	// GroupExpiry is how long a group membership lives without a new
	// GroupAdd (default 86400 s).
	GroupExpiry time.Duration
}

// WithDefaults returns o with every zero field set to Channels' default.
func (o Options) WithDefaults() Options {
	if o.Capacity <= 0 {
		o.Capacity = DefaultCapacity
	}
	if o.Expiry <= 0 {
		o.Expiry = DefaultExpiry
	}
	if o.GroupExpiry <= 0 {
		o.GroupExpiry = DefaultGroupExpiry
	}
	return o
}

// CapacityFor returns the capacity of one channel: the first matching
// ChannelCapacity pattern, else Capacity.
func (o Options) CapacityFor(channel string) int {
	for pattern, c := range o.ChannelCapacity {
		if ok, _ := path.Match(pattern, channel); ok {
			return c
		}
	}
	return o.Capacity
}

// ValidChannelName reports whether name follows Channels' channel name rule
// (^[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?$, shorter than 100 characters): ASCII
// letters, digits, '-', '_', '.', optionally followed by '!' and a
// process-local part. It runs on every layer call, so it is a byte loop,
// not a regexp.
func ValidChannelName(name string) error {
	head, tail, bang := strings.Cut(name, "!")
	if len(name) >= MaxNameLength || !nameChars(head, false) || (bang && !nameChars(tail, true)) {
		return fmt.Errorf("%w: channel %q (letters, digits, -_. and one optional '!', under %d characters)", ErrInvalidName, name, MaxNameLength)
	}
	return nil
}

// ValidGroupName reports whether name follows Channels' group name rule:
// ASCII letters, digits, '-', '_', '.', shorter than 100 characters.
func ValidGroupName(name string) error {
	if len(name) >= MaxNameLength || !nameChars(name, false) {
		return fmt.Errorf("%w: group %q (letters, digits, -_. only, under %d characters)", ErrInvalidName, name, MaxNameLength)
	}
	return nil
}

// nameChars reports whether s is made of name characters only; empty is
// allowed only where the rule says so (the part after '!').
func nameChars(s string, emptyOK bool) bool {
	if s == "" {
		return emptyOK
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ValidMessage checks that msg has a string "type".
func ValidMessage(msg Message) error {
	if msg.Type() == "" {
		return ErrNoType
	}
	return nil
}

// Stats are a layer's counters since it started.
type Stats struct {
	Sent      int64 // messages accepted by Send and GroupSend deliveries
	Full      int64 // Send calls refused with ErrChannelFull
	GroupDrop int64 // GroupSend deliveries skipped because a member was full
	Expired   int64 // messages that expired before anyone received them
}

// Watcher is implemented by layers that can say when a channel of this
// process (one that NewChannel returned) has a message. The runtime uses it so that an idle instance costs
// no goroutine parked in Receive: it drains the channel only when kicked.
// Layers without it are read through Receive by one goroutine per instance.
type Watcher interface {
	// Watch calls kick whenever channel gets a message, until stop is
	// called. kick must not block; it may be called with the layer's locks
	// held, so it must not call back into the layer.
	Watch(channel string, kick func()) (stop func())
	// TryReceive returns the channel's next message without waiting.
	TryReceive(channel string) (Message, bool)
}

// StatsReporter is implemented by layers that count what they do.
type StatsReporter interface {
	Stats() Stats
}
