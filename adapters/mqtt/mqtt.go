package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
)

// Options configures the adapter.
type Options struct {
	Brokers []BrokerConfig
	// Runtime runs the application instances, one per topic scope.
	Runtime *core.Runtime
	// IdleTimeout closes a topic's scope after this long without a message
	// (0: DefaultIdleTimeout).
	IdleTimeout time.Duration
	// QueueSize bounds each topic's queue between the client and the scope's
	// inbox (0: DefaultQueueSize).
	QueueSize int
	// PublishTimeout bounds the wait for the broker to accept a publish
	// (0: DefaultPublishTimeout).
	PublishTimeout time.Duration
	Logger         *slog.Logger // nil: the runtime's logger
}

// BrokerConfig is one broker connection.
type BrokerConfig struct {
	// Name names the connection in scope keys: "mqtt:<name>:<topic>".
	Name string
	// URL is the broker address: tcp://, mqtt://, ssl://, tls://, mqtts://,
	// ws:// or wss://.
	URL string
	// ClientID identifies the receiving connection; the publishing one is
	// "<ClientID>-pub" (or, if empty, gets an id from the broker).
	ClientID string
	Username string
	Password string
	// CAFile verifies the broker; CertFile and KeyFile are the client's
	// certificate for mutual TLS.
	CAFile, CertFile, KeyFile string
	// CleanSession discards the session on every connect. Off by default, so
	// the broker queues QoS 1 and 2 messages while the hub is away; that needs
	// a fixed ClientID.
	CleanSession bool
	// StoreDir keeps paho's in-flight QoS 1 and 2 state on disk ("": memory);
	// the publishing connection's is in StoreDir/pub.
	StoreDir string
	// Will is published by the broker if the hub disappears without a goodbye.
	Will *Will
	// Subscriptions are subscribed on every connect.
	Subscriptions []Subscription
	// KeepAlive is the MQTT keep-alive interval (0: 30s).
	KeepAlive time.Duration
	// MaxReconnectInterval caps the reconnect backoff (0: 30s).
	MaxReconnectInterval time.Duration
}

// Will is the MQTT last-will message.
type Will struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// Subscription is one topic filter and the maximum QoS wanted for it.
type Subscription struct {
	Filter string
	QoS    byte
}

// SubscriptionsFor subscribes to each filter at one QoS; with a router's
// filters it subscribes to exactly what the router routes:
// SubscriptionsFor(router.Filters(), 1).
func SubscriptionsFor(filters []string, qos byte) []Subscription {
	subs := make([]Subscription, len(filters))
	for i, f := range filters {
		subs[i] = Subscription{Filter: f, QoS: qos}
	}
	return subs
}

// Defaults for zero Options fields.
const (
	DefaultIdleTimeout    = 5 * time.Minute
	DefaultQueueSize      = 256
	DefaultPublishTimeout = 10 * time.Second
)

// closeGrace is how long a scope has to return after its Disconnect event,
// and how long shutdown waits for a queue to drain into a busy consumer.
const closeGrace = 5 * time.Second

// Adapter connects the hub to MQTT brokers.
type Adapter struct {
	opts  Options
	log   *slog.Logger
	conns []*conn
	once  sync.Once
}

// New checks the options and prepares one client per broker; Run connects.
func New(opts Options) (*Adapter, error) {
	if opts.Runtime == nil {
		return nil, errors.New("mqtt: Options.Runtime is required")
	}
	if len(opts.Brokers) == 0 {
		return nil, errors.New("mqtt: no brokers configured")
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	if opts.Runtime.Metrics == nil {
		// Count from the start, so the runtime's Metrics can be read.
		opts.Runtime.Metrics = new(core.Metrics)
	}
	a := &Adapter{opts: opts, log: opts.Logger}
	if a.log == nil {
		a.log = opts.Runtime.Logger
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	seen := map[string]bool{}
	for _, b := range opts.Brokers {
		if err := checkBroker(b, seen); err != nil {
			return nil, err
		}
		c, err := newConn(a, b)
		if err != nil {
			return nil, err
		}
		a.conns = append(a.conns, c)
	}
	return a, nil
}

func checkBroker(b BrokerConfig, seen map[string]bool) error {
	switch {
	case b.Name == "" || strings.Contains(b.Name, ":"):
		return fmt.Errorf("mqtt: broker name %q must be non-empty and without ':'", b.Name)
	case seen[b.Name]:
		return fmt.Errorf("mqtt: broker %q configured twice", b.Name)
	case !b.CleanSession && b.ClientID == "":
		return fmt.Errorf("mqtt: broker %q: a persistent session (clean_session off) needs a fixed client id", b.Name)
	case b.Will != nil && (b.Will.Topic == "" || b.Will.QoS > 2):
		return fmt.Errorf("mqtt: broker %q: will needs a topic and QoS 0–2", b.Name)
	}
	seen[b.Name] = true
	u, err := url.Parse(b.URL)
	if err != nil {
		return fmt.Errorf("mqtt: broker %q: %w", b.Name, err)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "mqtt+ssl", "tcps", "ws", "wss":
	default:
		return fmt.Errorf("mqtt: broker %q: unsupported URL scheme %q", b.Name, u.Scheme)
	}
	for _, s := range b.Subscriptions {
		if s.Filter == "" || s.QoS > 2 {
			return fmt.Errorf("mqtt: broker %q: subscription %q needs a filter and QoS 0–2", b.Name, s.Filter)
		}
	}
	return nil
}

// Run connects to every broker and serves until ctx ends. Then it stops
// taking messages, delivers what it had already acknowledged, closes every
// scope with a Disconnect event and disconnects. An unreachable broker is
// not an error: the client keeps trying, and logs why.
func (a *Adapter) Run(ctx context.Context) error {
	ran := true
	a.once.Do(func() { ran = false })
	if ran {
		return errors.New("mqtt: adapter already ran")
	}
	// Instances outlive ctx briefly, so that shutdown can drain queues into
	// them and let them see their Disconnect.
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	for _, c := range a.conns {
		c.connect(ictx)
	}
	<-ctx.Done()
	var wg sync.WaitGroup
	for _, c := range a.conns {
		wg.Go(c.stop)
	}
	wg.Wait()
	return nil
}

// takeBack returns the messages left in the inbox of a scope whose instance
// has ended, oldest first. They were acknowledged to the broker, so
// dropping them with the scope would lose them: a consumer that returns
// with an error on a bad payload must not take the good ones queued behind
// it along.
func takeBack(inst *core.Instance) []hubmqtt.Message {
	var back []hubmqtt.Message
	for _, ev := range inst.Leftover() {
		if m, ok := ev.(hubmqtt.Message); ok {
			back = append(back, m)
		}
	}
	return back
}
