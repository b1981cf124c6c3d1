package redis

import (
	"context"
	"errors"
	"fmt"
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
// directly; the others get one member per channel set. Without encryption
// or per-channel capacities that is one script on the group's host
// (groupScript: read the group and write its sets there), plus one script
// per other host that holds some of its members' sets; otherwise the group
// is read first and each host written by groupSendScript.
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
	var err error
	if l.codec.fernet == nil && len(l.opts.ChannelCapacity) == 0 && !l.isLarge(group) {
		err = l.groupSendScripted(ctx, group, msg)
	} else {
		var members []string
		if members, err = l.groupMembers(ctx, group); err == nil {
			l.sawSize(group, len(members))
			err = l.sendToMembers(ctx, members, msg)
		}
	}
	if err != nil {
		return fmt.Errorf("redis: group send to %s: %w", group, err)
	}
	return nil
}

// groupScriptMax is the largest group whose sets groupScript writes itself;
// a larger one it only reads, and sendToMembers writes the sets.
const groupScriptMax = 100

// isLarge reports whether group had more than groupScriptMax members when
// last sent to. Such a group is read with plain commands: Lua handling each
// name, even only to return it, costs Redis ~0.5-1 µs per member, more than
// a second round trip saves.
func (l *Layer) isLarge(group string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.large[group]
}

// sawSize records whether group is large; only large groups are kept.
func (l *Layer) sawSize(group string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n > groupScriptMax {
		l.large[group] = true
	} else {
		delete(l.large, group)
	}
}

// groupSendScripted runs groupScript on the group's host and sends to what
// it hands back: this process' members and those of other hosts, or every
// member of a group larger than groupScriptMax.
func (l *Layer) groupSendScripted(ctx context.Context, group string, msg layer.Message) error {
	head, err := l.codec.encodeHead(msg)
	if err != nil {
		return err
	}
	h := consistentHash(group, len(l.hosts))
	now := time.Now()
	res, err := groupScript.Run(ctx, l.hosts[h], []string{l.groupKey(group)},
		l.prefix, "."+l.client+"!", head, score(now), score(now.Add(-l.opts.GroupExpiry)),
		score(now.Add(-l.opts.Expiry)), l.opts.Capacity, l.ttl(), len(l.hosts), h, groupScriptMax).Slice()
	if err != nil {
		return err
	}
	if len(res) != 5 {
		return fmt.Errorf("group script: unexpected reply %v", res)
	}
	expired, _ := res[0].(int64)
	sent, _ := res[1].(int64)
	full, _ := res[2].(int64)
	l.expired.Add(expired)
	l.sent.Add(sent)
	l.groupDrop.Add(full)
	members := append(strs(res[3]), strs(res[4])...)
	if len(members) > groupScriptMax { // only read: from now on read it plainly
		l.sawSize(group, len(members))
	}
	return l.sendToMembers(ctx, members, msg)
}

// strs is a script's list of strings.
func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// sendToMembers delivers msg to members in this process and writes one
// member per channel set for the others, one groupSendScript per host.
func (l *Layer) sendToMembers(ctx context.Context, members []string, msg layer.Message) error {
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
	return errors.Join(errs...)
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
	l.mu.Lock()
	defer l.mu.Unlock()
	refused := l.pushAll(channels, msg, time.Now())
	l.sent.Add(int64(len(channels)) - refused)
	l.groupDrop.Add(refused)
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
