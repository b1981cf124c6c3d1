package redis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hubhq/hub/core/layer"
)

// The process-local channels' messages wait in l.local (package localq,
// shared with the other layers) until a Receive takes them. A Send from this
// process to a full one fails with ErrChannelFull, as in Memory; but a
// message drained from Redis was already accepted there, so no sender can be
// told: a full local channel refuses the new arrival and dispatch counts
// GroupDrop (see Stats).

// deliver puts msg, sent at sent, on a local channel unless it is full.
func (l *Layer) deliver(channel string, msg layer.Message, sent time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.push(channel, msg, sent)
}

// push is deliver with mu held. It counts nothing: Stats.Sent counts at
// the sender, so a message drained from Redis is not counted twice.
func (l *Layer) push(channel string, msg layer.Message, sent time.Time) bool {
	l.local.MaybeSweep()
	return l.local.Push(channel, msg, sent)
}

// pushAll is push of one message to many channels, each given its own map.
// It counts one operation towards the sweep, as the memory layer's
// GroupSend does: counting each of a 1,000-member group's pushes swept
// every queue on about every group send. It returns how many were refused.
func (l *Layer) pushAll(channels []string, msg layer.Message, sent time.Time) (refused int64) {
	l.local.MaybeSweep()
	for i, ch := range channels {
		m := msg
		if i > 0 { // each receiver owns its map
			m = maps.Clone(msg)
		}
		if !l.local.Push(ch, m, sent) {
			refused++
		}
	}
	return refused
}

// listenKeys are the sets this process drains on each host, and its wake
// key.
func (l *Layer) listenKeys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.listen)+1)
	for name := range l.listen {
		keys = append(keys, l.prefix+name)
	}
	return append(keys, l.wakeKey())
}

// wakeKey is a set only this process writes to, to wake its drain loops
// from BZPOPMIN. No channel or group key has a ':' after the prefix but
// groups, so it cannot clash with channels_redis' keys.
func (l *Layer) wakeKey() string { return l.prefix + ":wake:" + l.client }

// listenTo makes the drain loops drain the set of a non-local name
// ("specific.<client>!"). For a name new to this process it wakes them, so
// they do not wait out their current BZPOPMIN; if that fails they pick the
// name up within drainTimeout anyway.
func (l *Layer) listenTo(ctx context.Context, nonLocal string) {
	l.mu.Lock()
	known := l.listen[nonLocal]
	l.listen[nonLocal] = true
	l.mu.Unlock()
	if known {
		return
	}
	for _, h := range l.hosts {
		h.Pipelined(ctx, func(p goredis.Pipeliner) error {
			p.ZAdd(ctx, l.wakeKey(), goredis.Z{Score: 0, Member: "wake"})
			p.Expire(ctx, l.wakeKey(), time.Minute)
			return nil
		})
	}
}

// drainBatch bounds the members one drain round trip takes besides the one
// BZPOPMIN blocks for.
const drainBatch = 64

// drain is the one blocking loop per host that moves this process' messages
// from Redis into the local queues. Every host is drained, not only the one
// the consistent hash names, because channels_redis' send hashes the full
// channel name while its receive hashes the non-local part: draining all
// hosts accepts both. Errors back off and retry until Close.
func (l *Layer) drain(host int) {
	defer l.wg.Done()
	var b backoff
	failing := false
	c := l.hosts[host]
	for l.ctx.Err() == nil {
		keys := l.listenKeys()
		key, member, sc, more, err := popBatch(l.ctx, c, keys, drainTimeout)
		if err == nil || errors.Is(err, goredis.Nil) {
			if err == nil && key != l.wakeKey() {
				l.dispatch(member, sc)
			}
			for i := 0; i+1 < len(more); i += 2 {
				if sc, err := strconv.ParseFloat(more[i+1], 64); err == nil {
					l.dispatch(more[i], sc)
				}
			}
			if failing {
				l.log.Info("drain loop reconnected", "host", host)
				failing = false
			}
			b.reset()
			continue
		}
		if l.ctx.Err() != nil {
			return
		}
		if !failing {
			l.log.Warn("drain loop lost its host; retrying with backoff", "host", host, "err", err)
			failing = true
		}
		b.wait(l.ctx)
	}
}

// popBatch is one round trip of the drain loop: a BZPOPMIN on keys (the
// last is the wake key) and, pipelined behind it so that Redis runs it as
// soon as the BZPOPMIN returns, popScript taking up to drainBatch more
// members of the channel sets, so a backlog empties in one round trip
// instead of one per message. It returns the BZPOPMIN's key, member and
// score (goredis.Nil when it timed out) and the batch as member, score
// pairs, in each set's order.
func popBatch(ctx context.Context, c *goredis.Client, keys []string, timeout time.Duration) (string, string, float64, []string, error) {
	p := c.Pipeline()
	bz := p.Do(ctx, bzpopminArgs(keys, timeout)...)
	batch := p.EvalSha(ctx, popScript.Hash(), keys[:len(keys)-1], drainBatch)
	p.Exec(ctx)
	key, member, sc, err := bzpopminReply(bz)
	if err != nil && !errors.Is(err, goredis.Nil) {
		return "", "", 0, nil, err
	}
	more, berr := batch.StringSlice()
	if berr != nil {
		if goredis.HasErrorPrefix(berr, "NOSCRIPT") {
			// Loaded for the next round; the batch stays in Redis till then.
			popScript.Load(ctx, c)
		} else if !errors.Is(berr, goredis.Nil) {
			err = errors.Join(err, berr)
		}
	}
	return key, member, sc, more, err
}

// dispatch decodes one popped member and hands it to its channels.
func (l *Layer) dispatch(member string, sc float64) {
	sent := fromScore(sc)
	msg, to, err := l.codec.decode([]byte(member))
	if err != nil {
		l.log.Warn("undecodable message dropped", "err", err)
		return
	}
	if len(to) == 0 {
		l.log.Warn("process-local message without __asgi_channel__ dropped", "type", msg.Type())
		return
	}
	if time.Since(sent) > l.opts.Expiry {
		l.expired.Add(int64(len(to)))
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.groupDrop.Add(l.pushAll(to, msg, sent))
}

// bzpopmin runs BZPOPMIN with a fractional timeout (go-redis' helper rounds
// to whole seconds) and returns the key, member and score popped, or
// goredis.Nil when the timeout passed.
func bzpopmin(ctx context.Context, c *goredis.Client, keys []string, timeout time.Duration) (string, string, float64, error) {
	return bzpopminReply(c.Do(ctx, bzpopminArgs(keys, timeout)...))
}

func bzpopminArgs(keys []string, timeout time.Duration) []any {
	args := make([]any, 0, len(keys)+2)
	args = append(args, "BZPOPMIN")
	for _, k := range keys {
		args = append(args, k)
	}
	return append(args, strconv.FormatFloat(timeout.Seconds(), 'f', 3, 64))
}

func bzpopminReply(cmd *goredis.Cmd) (string, string, float64, error) {
	res, err := cmd.StringSlice()
	if err != nil {
		return "", "", 0, err
	}
	if len(res) != 3 {
		return "", "", 0, fmt.Errorf("BZPOPMIN: unexpected reply %q", res)
	}
	sc, err := strconv.ParseFloat(res[2], 64)
	if err != nil {
		return "", "", 0, fmt.Errorf("BZPOPMIN: score %q: %w", res[2], err)
	}
	return res[0], res[1], sc, nil
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
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	l.listenTo(ctx, nonLocalName(channel))
	cancel()
	return l.local.Watch(channel, kick)
}

// TryReceive returns a channel's next message without waiting; with Watch
// it replaces Receive.
func (l *Layer) TryReceive(channel string) (layer.Message, bool) {
	return l.local.TryReceive(channel)
}
