package redis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hubhq/hub/core/layer"
)

// bundle is one channel set a GroupSend writes to: every member channel
// stored in that set gets one shared copy, as channels_redis'
// _map_channel_keys_to_connection arranges.
type bundle struct {
	key      string
	channels []string
	capacity int
}

// GroupSend implements layer.Layer. Members in this process get the message
// directly; the others get one member per channel set, written by one
// script per host that skips full sets.
func (l *Layer) GroupSend(ctx context.Context, group string, msg layer.Message) error {
	if err := layer.ValidGroupName(group); err != nil {
		return err
	}
	if err := layer.ValidMessage(msg); err != nil {
		return err
	}
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	members, err := l.groupMembers(ctx, group)
	if err != nil {
		return fmt.Errorf("redis: group send to %s: %w", group, err)
	}
	byHost := make(map[int][]*bundle)
	byKey := make(map[string]*bundle)
	var own []string
	for _, ch := range members {
		if l.own(ch) {
			own = append(own, ch)
			continue
		}
		key := l.key(ch)
		if b := byKey[key]; b != nil {
			b.channels = append(b.channels, ch)
			continue
		}
		b := &bundle{key: key, channels: []string{ch}, capacity: l.opts.CapacityFor(ch)}
		byKey[key] = b
		h := consistentHash(nonLocalName(ch), len(l.hosts))
		byHost[h] = append(byHost[h], b)
	}
	l.deliverAll(own, msg)
	var errs []error
	for h, bundles := range byHost {
		if err := l.groupSendHost(ctx, h, bundles, msg); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redis: group send to %s: %w", group, err)
	}
	return nil
}

// groupMembers drops expired memberships and lists the rest.
func (l *Layer) groupMembers(ctx context.Context, group string) ([]string, error) {
	key := l.groupKey(group)
	var members *goredis.StringSliceCmd
	_, err := l.groupHost(group).Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, key, "0", score(time.Now().Add(-l.opts.GroupExpiry)))
		members = p.ZRange(ctx, key, 0, -1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return members.Val(), nil
}

// deliverAll hands msg to local channels under one lock, so a receiver that
// sees it on one member knows every other member was served too.
func (l *Layer) deliverAll(channels []string, msg layer.Message) {
	if len(channels) == 0 {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, ch := range channels {
		m := msg
		if i > 0 {
			m = maps.Clone(msg)
		}
		if l.push(ch, m, now) {
			l.sent.Add(1)
		} else {
			l.groupDrop.Add(1)
		}
	}
}

// groupSendHost writes the bundles of one host in one script call.
func (l *Layer) groupSendHost(ctx context.Context, host int, bundles []*bundle, msg layer.Message) error {
	keys := make([]string, len(bundles))
	args := make([]any, 0, 2*len(bundles)+3)
	for i, b := range bundles {
		keys[i] = b.key
		// Fixed-name members too carry a one-name list, as channels_redis writes.
		member, err := l.codec.encode(msg, b.channels)
		if err != nil {
			return err
		}
		args = append(args, member)
	}
	for _, b := range bundles {
		args = append(args, b.capacity)
	}
	now := time.Now()
	args = append(args, score(now), score(now.Add(-l.opts.Expiry)), l.ttl())
	res, err := groupSendScript.Run(ctx, l.hosts[host], keys, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("host %d: %w", host, err)
	}
	l.expired.Add(res[0])
	for i, b := range bundles {
		if res[i+1] == 1 {
			l.sent.Add(int64(len(b.channels)))
		} else {
			l.groupDrop.Add(int64(len(b.channels)))
		}
	}
	return nil
}
