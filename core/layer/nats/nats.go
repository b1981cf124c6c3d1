package nats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/internal/localq"
)

// Options configure a NATS layer.
type Options struct {
	// URL of the NATS server(s), comma-separated (default nats.DefaultURL).
	URL string
	// Prefix starts every subject (default "hub"); layers with different
	// prefixes on one server do not see each other.
	Prefix string
	// Layer are the shared capacity and expiry settings.
	Layer layer.Options
	// SendTimeout bounds how long a Send waits for the receiving process to
	// answer (default 5 s); a process that died a moment ago may not.
	SendTimeout time.Duration
	// Logger receives disconnects and reconnects (default slog.Default()).
	Logger *slog.Logger
	// NATS are extra connection options: credentials, TLS, a name.
	NATS []nats.Option
}

// Errors a caller may branch on.
var (
	// ErrNoReceiver means no process receives on the channel, so the
	// message was not kept: NATS core stores nothing.
	ErrNoReceiver = errors.New("nats: no process receives on this channel")
	// ErrClosed is returned by calls on a closed layer.
	ErrClosed = errors.New("nats: layer closed")
)

// Headers of the requests between processes.
const (
	hOp      = "Hub-Op"      // send | add | discard
	hChannel = "Hub-Channel" // the channel a request is about
	hGroup   = "Hub-Group"   // the group of add and discard
	hFrom    = "Hub-From"    // the process that sent a flush
)

// Layer is a channel layer on NATS core.
type Layer struct {
	opts    layer.Options
	prefix  string
	proc    string // this process' id, the <proc> of specific.<proc>!<id>
	nc      *nats.Conn
	timeout time.Duration
	log     *slog.Logger

	closed    chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex
	queues *localq.Queues[layer.Message] // channel → messages this process holds
	fixed  map[string]*nats.Subscription // fixed-name channels received here
	groups map[string]*groupState        // groups with members owned here

	sent, full, groupDrop, expired atomic.Int64
}

var (
	_ layer.Layer         = (*Layer)(nil)
	_ layer.StatsReporter = (*Layer)(nil)
)

// New connects to NATS and subscribes this process' subject.
func New(ctx context.Context, o Options) (*Layer, error) {
	if o.URL == "" {
		o.URL = nats.DefaultURL
	}
	if o.Prefix == "" {
		o.Prefix = "hub"
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	l := &Layer{
		opts:    o.Layer.WithDefaults(),
		prefix:  o.Prefix,
		proc:    randomHex(12),
		timeout: o.SendTimeout,
		log:     o.Logger.With("layer", "nats"),
		closed:  make(chan struct{}),
		fixed:   make(map[string]*nats.Subscription),
		groups:  make(map[string]*groupState),
	}
	l.queues = localq.New[layer.Message](&l.mu, localq.Config{
		Capacity:  l.opts.CapacityFor,
		Expiry:    l.opts.Expiry,
		Expired:   &l.expired,
		Closed:    l.closed,
		ErrClosed: ErrClosed,
	})
	nc, err := nats.Connect(o.URL, l.connOptions(o.NATS)...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect %s: %w", o.URL, err)
	}
	l.nc = nc
	if _, err := nc.Subscribe(l.procSubject(l.proc), l.handleProc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: subscribe: %w", err)
	}
	if _, err := nc.Subscribe(l.prefix+".flush", l.handleFlush); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: subscribe: %w", err)
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: connect %s: %w", o.URL, err)
	}
	return l, nil
}

// connOptions are the connection settings: reconnect forever with backoff,
// never buffer while disconnected, log the outages.
func (l *Layer) connOptions(extra []nats.Option) []nats.Option {
	return append([]nats.Option{
		nats.Name("hub layer " + l.proc),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		// No buffering while disconnected: a send then fails clearly
		// instead of being replayed late or lost silently.
		nats.ReconnectBufSize(-1),
		nats.NoCallbacksAfterClientClose(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			l.log.Warn("disconnected; reconnecting with backoff", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { l.log.Info("reconnected", "server", nc.ConnectedUrlRedacted()) }),
	}, extra...)
}

// reconnectDelay is capped exponential backoff with jitter.
func reconnectDelay(attempts int) time.Duration {
	d := min(50*time.Millisecond<<min(attempts, 6), 2*time.Second)
	return d/2 + mrand.N(d/2+1)
}

// Close closes the connection, which ends its subscriptions and their
// goroutines. Receives waiting on this layer return ErrClosed.
func (l *Layer) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.nc.Close()
	})
	return nil
}

// Stats implements layer.StatsReporter. Sent counts accepted Sends from
// this process and group deliveries into its members; GroupDrop counts group
// messages its full members skipped.
func (l *Layer) Stats() layer.Stats {
	return layer.Stats{Sent: l.sent.Load(), Full: l.full.Load(), GroupDrop: l.groupDrop.Load(), Expired: l.expired.Load()}
}

// NewChannel implements layer.Layer: prefix.<process>!<random>.
func (l *Layer) NewChannel(ctx context.Context, prefix string) (string, error) {
	name := prefix + "." + l.proc + "!" + randomHex(12)
	return name, layer.ValidChannelName(name)
}

// Send implements layer.Layer. A channel of this process is served
// directly; any other is a request answered by the process that holds it.
func (l *Layer) Send(ctx context.Context, channel string, msg layer.Message) error {
	if err := layer.ValidChannelName(channel); err != nil {
		return err
	}
	if err := layer.ValidMessage(msg); err != nil {
		return err
	}
	if l.isClosed() {
		return ErrClosed
	}
	if l.own(channel) {
		if !l.deliver(channel, msg) {
			l.full.Add(1)
			return fmt.Errorf("nats: send to %s: %w", channel, layer.ErrChannelFull)
		}
		l.sent.Add(1)
		return nil
	}
	data, err := encode(msg)
	if err != nil {
		return fmt.Errorf("nats: send to %s: %w", channel, err)
	}
	m := nats.NewMsg(l.subjectOf(channel))
	m.Header.Set(hOp, "send")
	m.Header.Set(hChannel, channel)
	m.Data = data
	if err := l.request(ctx, m); err != nil {
		if errors.Is(err, layer.ErrChannelFull) {
			l.full.Add(1)
		}
		return fmt.Errorf("nats: send to %s: %w", channel, err)
	}
	l.sent.Add(1)
	return nil
}

// request sends a request, waits at most SendTimeout for the answer and
// turns it into an error.
func (l *Layer) request(ctx context.Context, m *nats.Msg) error {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	reply, err := l.nc.RequestMsgWithContext(ctx, m)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return ErrNoReceiver
	case err != nil:
		return l.connErr(err)
	}
	switch s := string(reply.Data); s {
	case "ok":
		return nil
	case "full":
		return layer.ErrChannelFull
	default:
		return errors.New(s)
	}
}

// Receive implements layer.Layer. The first Receive on a fixed-name channel
// subscribes this process to it; from then on it holds the channel's
// messages (sharing them with other receiving processes) until Close.
func (l *Layer) Receive(ctx context.Context, channel string) (layer.Message, error) {
	if err := layer.ValidChannelName(channel); err != nil {
		return nil, err
	}
	if l.isClosed() {
		return nil, ErrClosed
	}
	if isLocal(channel) {
		if !l.own(channel) {
			return nil, fmt.Errorf("nats: receive %s: process-local channel of another process", channel)
		}
	} else if err := l.subscribeFixed(ctx, channel); err != nil {
		if l.isClosed() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("nats: receive %s: %w", channel, l.connErr(err))
	}
	return l.queues.Receive(ctx, channel)
}

// subscribeFixed joins a fixed-name channel's queue group once, and waits
// until the server knows, so a Send right after finds this receiver.
func (l *Layer) subscribeFixed(ctx context.Context, channel string) error {
	l.mu.Lock()
	if l.fixed[channel] != nil {
		l.mu.Unlock()
		return nil
	}
	sub, err := l.nc.QueueSubscribe(l.chanSubject(channel), "receivers", l.handleChan)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	l.fixed[channel] = sub
	l.mu.Unlock()
	return l.sync(ctx)
}

// sync waits until the server has seen everything sent so far; it runs even
// for a cancelled ctx, since a subscription it follows is already made.
func (l *Layer) sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	return l.nc.FlushWithContext(ctx)
}

// deliver puts msg on one of this process' queues unless it is full.
func (l *Layer) deliver(channel string, msg layer.Message) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.push(channel, msg)
}

// handleProc serves requests to this process' subject.
func (l *Layer) handleProc(m *nats.Msg) {
	channel := m.Header.Get(hChannel)
	if !l.own(channel) {
		respond(m, "error: nats: channel "+channel+" is not of this process")
		return
	}
	switch op := m.Header.Get(hOp); op {
	case "send":
		l.handleSend(m, channel)
	case "add":
		respondErr(m, l.addMember(m.Header.Get(hGroup), channel))
	case "discard":
		l.removeMember(m.Header.Get(hGroup), channel)
		respond(m, "ok")
	default:
		respond(m, "error: nats: unknown operation "+op)
	}
}

// handleChan serves a fixed-name channel this process receives on.
func (l *Layer) handleChan(m *nats.Msg) { l.handleSend(m, m.Header.Get(hChannel)) }

// handleSend queues one message. A request is answered; a forwarded group
// message (no reply subject) that finds the channel full is counted.
func (l *Layer) handleSend(m *nats.Msg, channel string) {
	if layer.ValidChannelName(channel) != nil {
		respond(m, "error: nats: invalid channel "+channel)
		return
	}
	msg, err := decode(m.Data)
	if err != nil {
		respond(m, "error: nats: "+err.Error())
		return
	}
	ok := l.deliver(channel, msg)
	switch {
	case m.Reply != "" && ok: // a Send: its sender counts
		respond(m, "ok")
	case m.Reply != "":
		respond(m, "full")
	case ok: // a group message forwarded to a fixed-name member
		l.sent.Add(1)
	default:
		l.groupDrop.Add(1)
	}
}

// handleFlush empties this process when another one flushes the layer.
func (l *Layer) handleFlush(m *nats.Msg) {
	if m.Header.Get(hFrom) != l.proc {
		l.flushLocal()
	}
}

// Flush implements layer.Layer: every process of the layer empties its
// queues and drops its group memberships. Fixed-name subscriptions stay.
func (l *Layer) Flush(ctx context.Context) error {
	if l.isClosed() {
		return ErrClosed
	}
	l.flushLocal()
	m := nats.NewMsg(l.prefix + ".flush")
	m.Header.Set(hFrom, l.proc)
	if err := l.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("nats: flush: %w", l.connErr(err))
	}
	if err := l.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("nats: flush: %w", err)
	}
	return nil
}

func (l *Layer) flushLocal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queues.Clear()
	for name, g := range l.groups {
		g.sub.Unsubscribe()
		delete(l.groups, name)
	}
}

// connErr says plainly when an error comes from being disconnected: with
// no reconnect buffer, nats.go reports that as a full outbound buffer.
func (l *Layer) connErr(err error) error {
	if errors.Is(err, nats.ErrReconnectBufExceeded) || !l.nc.IsConnected() {
		return fmt.Errorf("disconnected from NATS, reconnecting (%s): %w", l.nc.Status(), err)
	}
	return err
}

func respond(m *nats.Msg, s string) {
	if m.Reply != "" {
		m.Respond([]byte(s))
	}
}

func respondErr(m *nats.Msg, err error) {
	if err != nil {
		respond(m, "error: "+err.Error())
		return
	}
	respond(m, "ok")
}

func (l *Layer) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// own reports whether a process-local channel belongs to this process.
func (l *Layer) own(channel string) bool { return isLocal(channel) && owner(channel) == l.proc }

func (l *Layer) procSubject(proc string) string { return l.prefix + ".proc." + token(proc) }

func (l *Layer) chanSubject(channel string) string { return l.prefix + ".chan." + token(channel) }

func (l *Layer) groupSubject(group string) string { return l.prefix + ".group." + token(group) }

// subjectOf is where a Send to channel goes.
func (l *Layer) subjectOf(channel string) string {
	if isLocal(channel) {
		return l.procSubject(owner(channel))
	}
	return l.chanSubject(channel)
}

func isLocal(channel string) bool { return strings.IndexByte(channel, '!') >= 0 }

// owner is the process part of a process-local name: the last dotted
// element before '!' (specific.<proc>!<id>).
func owner(channel string) string {
	nonLocal := channel[:strings.IndexByte(channel, '!')]
	return nonLocal[strings.LastIndexByte(nonLocal, '.')+1:]
}

// token makes a name one subject token: '.' separates tokens in NATS and
// cannot appear in one, while '~' never appears in a Channels name.
func token(name string) string { return strings.ReplaceAll(name, ".", "~") }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}
