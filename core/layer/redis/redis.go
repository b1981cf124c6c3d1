package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/internal/localq"
)

// Options configure a Redis layer. The zero value talks to
// redis://localhost:6379 with channels_redis' defaults.
type Options struct {
	// Hosts are redis:// or rediss:// URLs (database, user and password
	// in the URL). Several hosts shard the layer as channels_redis does; a
	// Django project must list the same hosts in the same order.
	Hosts []string
	// Prefix starts every key (default "asgi", channels_redis' default).
	Prefix string
	// Layer are the shared capacity and expiry settings.
	Layer layer.Options
	// SymmetricEncryptionKeys, if set, encrypt every message with Fernet
	// exactly as channels_redis' symmetric_encryption_keys: the first key
	// encrypts, any key decrypts.
	SymmetricEncryptionKeys []string
	// Logger receives reconnects and undecodable messages (default
	// slog.Default()).
	Logger *slog.Logger
}

// Layer is a channel layer on Redis, shared with channels_redis.
type Layer struct {
	opts   layer.Options
	prefix string
	codec  codec
	hosts  []*goredis.Client
	conns  *conns
	client string // this process' client prefix, the <client> of specific.<client>!<id>
	log    *slog.Logger

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the drain loops
	closeOnce sync.Once

	mu     sync.Mutex
	local  *localq.Queues[layer.Message] // process-local channel → its buffered messages
	listen map[string]bool               // non-local names drained by this process
	large  map[string]bool               // groups of more than groupScriptMax members

	sent, full, groupDrop, expired atomic.Int64
}

var (
	_ layer.Layer         = (*Layer)(nil)
	_ layer.StatsReporter = (*Layer)(nil)
)

// drainTimeout bounds each blocking BZPOPMIN, so drain loops see a newly
// used channel prefix and receivers see a cancelled context within it.
const drainTimeout = time.Second

// New connects to every host and starts this process' drain loops.
func New(ctx context.Context, o Options) (*Layer, error) {
	if len(o.Hosts) == 0 {
		o.Hosts = []string{"redis://localhost:6379"}
	}
	if o.Prefix == "" {
		o.Prefix = "asgi"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	l := &Layer{
		opts:   o.Layer.WithDefaults(),
		prefix: o.Prefix,
		conns:  &conns{open: make(map[*trackedConn]struct{})},
		client: randomHex(16),
		log:    o.Logger.With("layer", "redis"),
		listen: make(map[string]bool),
		large:  make(map[string]bool),
	}
	l.codec = codec{fernet: newMultiFernet(o.SymmetricEncryptionKeys), ttl: l.opts.Expiry + 10*time.Second}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.local = localq.New[layer.Message](&l.mu, localq.Config{
		Capacity:  l.opts.CapacityFor,
		Expiry:    l.opts.Expiry,
		Expired:   &l.expired,
		Closed:    l.ctx.Done(),
		ErrClosed: ErrClosed,
	})
	for _, h := range o.Hosts {
		c, err := l.connect(ctx, h)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.hosts = append(l.hosts, c)
	}
	l.listen["specific."+l.client+"!"] = true
	for i := range l.hosts {
		l.wg.Add(1)
		go l.drain(i)
	}
	return l, nil
}

// connect makes the client of one host and checks that it answers.
func (l *Layer) connect(ctx context.Context, url string) (*goredis.Client, error) {
	ro, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: host %q: %w", url, err)
	}
	ro.Protocol = 2 // what redis-py speaks; plain replies, no push notifications
	ro.DisableIdentity = true
	// No silent retries: a retried BZPOPMIN after a read timeout would drop
	// the message the first one popped and return the next. Callers and
	// the drain loops retry with backoff instead.
	ro.MaxRetries = -1
	ro.DialerRetries = 1 // so an outage is a prompt, clear error
	// A pop of a 1 MiB message on a loaded host must not time out after the
	// server has removed it; a dead host still fails at once (EOF).
	ro.ReadTimeout = 10 * time.Second
	ro.Dialer = l.conns.dialer(ro.TLSConfig)
	c := goredis.NewClient(ro)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis: connect %s: %w", ro.Addr, err)
	}
	return c, nil
}

// Close stops the drain loops and closes every connection. Receives
// waiting on this layer return ErrClosed.
func (l *Layer) Close() error {
	var errs []error
	l.closeOnce.Do(func() {
		l.cancel()
		for _, c := range l.hosts {
			if err := c.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
				errs = append(errs, err)
			}
		}
		l.conns.closeAll()
		l.wg.Wait()
	})
	return errors.Join(errs...)
}

// Stats implements layer.StatsReporter. Sent counts messages this process
// put on channels (accepted sends, group deliveries); GroupDrop also counts
// messages from other processes that reached a full process-local channel
// of this one.
func (l *Layer) Stats() layer.Stats {
	return layer.Stats{Sent: l.sent.Load(), Full: l.full.Load(), GroupDrop: l.groupDrop.Load(), Expired: l.expired.Load()}
}

// NewChannel implements layer.Layer with channels_redis' shape:
// prefix.<client>!<random>.
func (l *Layer) NewChannel(ctx context.Context, prefix string) (string, error) {
	name := prefix + "." + l.client + "!" + randomHex(16)
	if err := layer.ValidChannelName(name); err != nil {
		return "", err
	}
	l.listenTo(ctx, nonLocalName(name))
	return name, nil
}

// own reports whether a process-local channel belongs to this process.
func (l *Layer) own(channel string) bool {
	return isLocal(channel) && strings.HasSuffix(nonLocalName(channel), "."+l.client+"!")
}

// Send implements layer.Layer. A message to a channel of this process goes
// straight to its local queue; anything else goes through Redis.
func (l *Layer) Send(ctx context.Context, channel string, msg layer.Message) error {
	if err := check(channel, msg); err != nil {
		return err
	}
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	if l.own(channel) {
		if !l.deliver(channel, msg, time.Now()) {
			l.full.Add(1)
			return fmt.Errorf("redis: send to %s: %w", channel, layer.ErrChannelFull)
		}
		l.sent.Add(1)
		return nil
	}
	var to any
	if isLocal(channel) {
		to = channel
	}
	host := consistentHash(nonLocalName(channel), len(l.hosts))
	member, err := l.codec.encode(msg, to)
	if err != nil {
		return fmt.Errorf("redis: send to %s: %w", channel, err)
	}
	now := time.Now()
	res, err := sendScript.Run(ctx, l.hosts[host], []string{l.key(channel)},
		member, score(now), score(now.Add(-l.opts.Expiry)), l.opts.CapacityFor(channel), l.ttl()).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis: send to %s: %w", channel, err)
	}
	l.expired.Add(res[1])
	if res[0] == 0 {
		l.full.Add(1)
		return fmt.Errorf("redis: send to %s: %w", channel, layer.ErrChannelFull)
	}
	l.sent.Add(1)
	return nil
}

// Receive implements layer.Layer. Process-local channels are served from
// the local queues the drain loops fill; fixed names pop from Redis.
func (l *Layer) Receive(ctx context.Context, channel string) (layer.Message, error) {
	if err := layer.ValidChannelName(channel); err != nil {
		return nil, err
	}
	if !isLocal(channel) {
		return l.receiveFixed(ctx, channel)
	}
	if !l.own(channel) {
		return nil, fmt.Errorf("redis: receive %s: process-local channel of another process", channel)
	}
	l.listenTo(ctx, nonLocalName(channel))
	return l.local.Receive(ctx, channel)
}

// receiveFixed pops the oldest live message of a fixed-name channel.
func (l *Layer) receiveFixed(ctx context.Context, channel string) (layer.Message, error) {
	key := l.key(channel)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if l.ctx.Err() != nil {
			return nil, ErrClosed
		}
		host, member, sc, err := l.popFixed(ctx, channel, key)
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			if l.ctx.Err() != nil {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("redis: receive %s: %w", channel, err)
		}
		if ctx.Err() != nil { // the caller gave up meanwhile: put it back in front
			host.ZAdd(context.WithoutCancel(ctx), key, goredis.Z{Score: sc, Member: member})
			return nil, ctx.Err()
		}
		if time.Since(fromScore(sc)) > l.opts.Expiry {
			l.expired.Add(1)
			continue
		}
		msg, _, err := l.codec.decode([]byte(member))
		if err != nil {
			l.log.Warn("undecodable message dropped", "channel", channel, "err", err)
			continue
		}
		return msg, nil
	}
}

// popFixed takes one member of a fixed-name channel. This layer writes a
// fixed-name channel on the host its name hashes to (so capacity and order
// hold across hosts), but channels_redis writes round-robin: with several
// hosts the others are checked without blocking first, and the block on the
// home host is kept short so their messages are not left waiting.
func (l *Layer) popFixed(ctx context.Context, channel, key string) (*goredis.Client, string, float64, error) {
	home := consistentHash(channel, len(l.hosts))
	wait := drainTimeout
	if len(l.hosts) > 1 {
		wait = drainTimeout / 4
		for i, h := range l.hosts {
			if i == home {
				continue
			}
			z, err := h.ZPopMin(ctx, key, 1).Result()
			if err != nil {
				return nil, "", 0, err
			}
			if len(z) == 1 {
				member, _ := z[0].Member.(string)
				return h, member, z[0].Score, nil
			}
		}
	}
	if d, ok := ctx.Deadline(); ok {
		wait = max(min(wait, time.Until(d)), 10*time.Millisecond)
	}
	h := l.hosts[home]
	_, member, sc, err := bzpopmin(ctx, h, []string{key}, wait)
	return h, member, sc, err
}

// GroupAdd implements layer.Layer.
func (l *Layer) GroupAdd(ctx context.Context, group, channel string) error {
	if err := checkNames(group, channel); err != nil {
		return err
	}
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	key := l.groupKey(group)
	_, err := l.groupHost(group).TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZAdd(ctx, key, goredis.Z{Score: float64(time.Now().UnixMicro()) / 1e6, Member: channel})
		p.Expire(ctx, key, time.Duration(math.Ceil(l.opts.GroupExpiry.Seconds()))*time.Second)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: group add %s to %s: %w", channel, group, err)
	}
	return nil
}

// GroupDiscard implements layer.Layer.
func (l *Layer) GroupDiscard(ctx context.Context, group, channel string) error {
	if err := checkNames(group, channel); err != nil {
		return err
	}
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	if err := l.groupHost(group).ZRem(ctx, l.groupKey(group), channel).Err(); err != nil {
		return fmt.Errorf("redis: group discard %s from %s: %w", channel, group, err)
	}
	return nil
}

// Flush implements layer.Layer: it deletes every key under the prefix on
// every host, as channels_redis' flush, and empties the local queues.
func (l *Layer) Flush(ctx context.Context) error {
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	pattern := globEscape(l.prefix) + "*"
	for i, h := range l.hosts {
		if err := flushScript.Run(ctx, h, nil, pattern).Err(); err != nil {
			return fmt.Errorf("redis: flush host %d: %w", i, err)
		}
	}
	l.mu.Lock()
	l.local.Clear()
	l.mu.Unlock()
	return nil
}

func (l *Layer) key(channel string) string { return l.prefix + nonLocalName(channel) }

func (l *Layer) groupKey(group string) string { return l.prefix + ":group:" + group }

func (l *Layer) groupHost(group string) *goredis.Client {
	return l.hosts[consistentHash(group, len(l.hosts))]
}

// ttl is the EXPIRE of a channel set in whole seconds, rounded up.
func (l *Layer) ttl() int64 { return int64(math.Ceil(l.opts.Expiry.Seconds())) }

func check(channel string, msg layer.Message) error {
	if err := layer.ValidChannelName(channel); err != nil {
		return err
	}
	return layer.ValidMessage(msg)
}

func checkNames(group, channel string) error {
	if err := layer.ValidGroupName(group); err != nil {
		return err
	}
	return layer.ValidChannelName(channel)
}

// score is a time as channels_redis writes it: float seconds since the epoch.
func score(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', 6, 64)
}

func fromScore(s float64) time.Time { return time.UnixMicro(int64(s * 1e6)) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// globEscape quotes the characters KEYS treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
