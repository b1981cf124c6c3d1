package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
)

// conn is one broker: the connection that receives its messages, the
// topics live on it, and the connection that publishes (pub).
type conn struct {
	a      *Adapter
	cfg    BrokerConfig
	log    *slog.Logger
	client paho.Client     // subscribes and receives; never publishes
	ictx   context.Context // instances run in it; set by connect

	// pub publishes. It is a connection of its own because paho reads all
	// of a connection's packets in one loop: on client, the acks of the
	// hub's own publishes would queue behind a message that onMessage holds
	// for a full topic queue, and a consumer that publishes while behind
	// would wait for an ack that cannot come.
	pub paho.Client

	mu       sync.Mutex
	topics   map[string]*topic
	stopping chan struct{} // closed by stop: take no more messages
	topicsWG sync.WaitGroup
}

func newConn(a *Adapter, cfg BrokerConfig) (*conn, error) {
	c := &conn{
		a:        a,
		cfg:      cfg,
		log:      a.log.With("adapter", "mqtt", "broker", cfg.Name),
		topics:   map[string]*topic{},
		stopping: make(chan struct{}),
	}
	o, err := c.clientOptions()
	if err != nil {
		return nil, err
	}
	c.client = paho.NewClient(o)
	po, err := c.publisherOptions()
	if err != nil {
		return nil, err
	}
	c.pub = paho.NewClient(po)
	return c, nil
}

// publisherOptions are the publishing connection's: the broker's settings
// with client id "<id>-pub", no subscriptions, no will (the receiving
// connection has it: one will per broker), and paho's store in
// StoreDir/pub, so that with a persistent session the hub's unacknowledged
// publishes survive a restart as before.
func (c *conn) publisherOptions() (*paho.ClientOptions, error) {
	cfg := c.cfg
	if cfg.ClientID != "" {
		cfg.ClientID += "-pub"
	}
	if cfg.StoreDir != "" {
		cfg.StoreDir = filepath.Join(cfg.StoreDir, "pub") // FileStore reads only *.msg: no clash
	}
	cfg.Will = nil
	o, err := clientOptions(cfg)
	if err != nil {
		return nil, err
	}
	return o.SetOnConnectHandler(func(paho.Client) {
		c.log.Info("publishing connection up", "url", cfg.URL, "client_id", cfg.ClientID)
	}).SetConnectionLostHandler(func(_ paho.Client, err error) {
		c.log.Warn("publishing connection lost; reconnecting", "err", err)
	}), nil
}

// clientOptions are the receiving connection's.
func (c *conn) clientOptions() (*paho.ClientOptions, error) {
	o, err := clientOptions(c.cfg)
	if err != nil {
		return nil, err
	}
	return o.SetDefaultPublishHandler(c.onMessage).
		SetOnConnectHandler(c.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			c.log.Warn("connection lost; reconnecting", "err", err)
		}), nil
}

// clientOptions are what both of a broker's connections share.
func clientOptions(cfg BrokerConfig) (*paho.ClientOptions, error) {
	o := paho.NewClientOptions().
		AddBroker(cfg.URL).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(cfg.CleanSession).
		SetKeepAlive(orDefault(cfg.KeepAlive, 30*time.Second)).
		// One handler call at a time, in arrival order: see the package doc.
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2 * time.Second).
		SetMaxReconnectInterval(orDefault(cfg.MaxReconnectInterval, 30*time.Second))
	if cfg.StoreDir != "" {
		if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
			return nil, fmt.Errorf("mqtt: broker %q: store dir: %w", cfg.Name, err)
		}
		o.SetStore(paho.NewFileStore(cfg.StoreDir))
	}
	if w := cfg.Will; w != nil {
		o.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retain)
	}
	if cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" {
		t, err := tlsConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("mqtt: broker %q: %w", cfg.Name, err)
		}
		o.SetTLSConfig(t)
	}
	return o, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func tlsConfig(cfg BrokerConfig) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificates", cfg.CAFile)
		}
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("client certificate needs both cert_file and key_file")
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// connect starts both clients. With ConnectRetry a token completes only
// once connected, so it is not waited for: onConnect does the work. The
// publishing client connects at once, not on first use, so that with a
// persistent session it resends what a previous run left in flight.
func (c *conn) connect(ictx context.Context) {
	c.ictx = ictx
	c.pub.Connect()
	c.client.Connect()
}

// onConnect subscribes on every (re)connect. A persistent session already
// has the subscriptions, but a broker that lost its state does not, and
// subscribing again is harmless. Paho calls it in its own goroutine, so it
// may wait: it retries with backoff while the connection stays up.
func (c *conn) onConnect(client paho.Client) {
	c.log.Info("connected", "url", c.cfg.URL)
	if len(c.cfg.Subscriptions) == 0 {
		return
	}
	filters := make(map[string]byte, len(c.cfg.Subscriptions))
	for _, s := range c.cfg.Subscriptions {
		filters[s.Filter] = s.QoS
	}
	for backoff := time.Second; ; backoff = min(2*backoff, 30*time.Second) {
		err := c.subscribe(client, filters)
		if err == nil {
			return
		}
		if !client.IsConnectionOpen() {
			return // the next connect subscribes again
		}
		c.log.Error("subscribe failed; retrying", "filters", filters, "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-c.stopping:
			return
		}
	}
}

func (c *conn) subscribe(client paho.Client, filters map[string]byte) error {
	tok := client.SubscribeMultiple(filters, nil) // nil: the default handler
	if !tok.WaitTimeout(c.a.opts.PublishTimeout) {
		return fmt.Errorf("no answer within %s", c.a.opts.PublishTimeout)
	}
	if err := tok.Error(); err != nil {
		return err
	}
	for f, code := range tok.(*paho.SubscribeToken).Result() {
		if code == 0x80 { // an ACL says no: retrying will not change it
			c.log.Error("broker refused subscription", "filter", f)
		}
	}
	return nil
}

// onMessage runs in paho's router goroutine, one message at a time in
// arrival order. It queues the message on its topic and acknowledges it; it
// waits only when that topic's queue is full (see the package doc).
func (c *conn) onMessage(_ paho.Client, m paho.Message) {
	if c.enqueue(m) {
		m.Ack()
	}
}

func (c *conn) enqueue(m paho.Message) bool {
	c.mu.Lock()
	select {
	case <-c.stopping:
		c.mu.Unlock()
		return false // not acknowledged: the broker redelivers it next session
	default:
	}
	t := c.topics[m.Topic()]
	if t == nil {
		t = &topic{name: m.Topic(), queue: make(chan paho.Message, c.a.opts.QueueSize)}
		c.topics[t.name] = t
		c.topicsWG.Go((&worker{c: c, t: t}).run)
	}
	select {
	case t.queue <- m:
		c.mu.Unlock()
		return true
	default:
	}
	t.waiters++ // keeps the worker from retiring the topic while we wait
	t.held++
	warn := time.Since(t.warned) > warnEvery // under steady pressure every message waits
	if warn {
		t.warned = time.Now()
	}
	held := t.held
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		t.waiters--
		c.mu.Unlock()
	}()
	if warn {
		c.log.Warn("topic queue full; holding the connection until it drains", "topic", t.name, "queue", cap(t.queue), "times_held", held)
	}
	select {
	case t.queue <- m:
		select {
		case <-c.stopping:
			return false // drain may have missed it: let the broker send it again
		default:
			return true
		}
	case <-c.stopping:
		return false
	}
}

// send is the SendFunc of this broker's scopes.
func (c *conn) send(ctx context.Context, ev core.Event) error {
	switch ev := ev.(type) {
	case hubmqtt.Publish:
		return c.publish(ctx, ev)
	case *hubmqtt.Publish:
		return c.publish(ctx, *ev)
	default:
		return fmt.Errorf("mqtt: broker %q cannot send %q", c.cfg.Name, ev.Type())
	}
}

// Publish publishes through the named broker connection, for code that has
// no scope (a plugin that raises alerts, say). It needs Run to be running.
func (a *Adapter) Publish(ctx context.Context, broker string, p hubmqtt.Publish) error {
	for _, c := range a.conns {
		if c.cfg.Name == broker {
			return c.publish(ctx, p)
		}
	}
	return fmt.Errorf("mqtt: no broker %q", broker)
}

// publish hands the message to paho and waits until the broker has it (at
// once for QoS 0). A timeout is an error even though paho may still deliver
// the message after a reconnect: the caller learns it is not confirmed.
func (c *conn) publish(ctx context.Context, p hubmqtt.Publish) error {
	if p.Topic == "" || strings.ContainsAny(p.Topic, "+#") || p.QoS > 2 {
		return fmt.Errorf("mqtt: publish to %q with QoS %d: need a topic without wildcards and QoS 0–2", p.Topic, p.QoS)
	}
	tok := c.pub.Publish(p.Topic, p.QoS, p.Retain, p.Payload)
	timer := time.NewTimer(c.a.opts.PublishTimeout)
	defer timer.Stop()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return fmt.Errorf("mqtt: publish to %q on %s: %w", p.Topic, c.cfg.Name, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("mqtt: publish to %q on %s: not acknowledged within %s", p.Topic, c.cfg.Name, c.a.opts.PublishTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: publish to %q on %s: %w", p.Topic, c.cfg.Name, err)
	}
	return nil
}

// stop takes no more messages, lets every topic drain and close its scope,
// then disconnects. Messages paho still had are left unacknowledged, so the
// broker sends them again next session. The publishing connection goes
// last: consumers publish while their queues drain.
func (c *conn) stop() {
	c.mu.Lock()
	close(c.stopping)
	c.mu.Unlock()
	c.topicsWG.Wait()
	c.client.Disconnect(250)
	c.pub.Disconnect(250)
	c.log.Info("disconnected")
}
