package nats

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hubhq/hub/core/layer"
)

// groupState is this process' part of a group: the members it owns (its
// process-local channels, and fixed-name channels it added) and its
// subscription to the group's subject.
type groupState struct {
	members map[string]time.Time // channel → joined at
	sub     *nats.Subscription
}

// GroupAdd implements layer.Layer. A channel of another process is added by
// that process, on request; any other channel by this one.
func (l *Layer) GroupAdd(ctx context.Context, group, channel string) error {
	if err := checkNames(group, channel); err != nil {
		return err
	}
	if l.isClosed() {
		return ErrClosed
	}
	if isLocal(channel) && !l.own(channel) {
		return l.remoteMember(ctx, "add", group, channel)
	}
	if err := l.addMember(group, channel); err != nil {
		return fmt.Errorf("nats: group add %s to %s: %w", channel, group, err)
	}
	return nil
}

// GroupDiscard implements layer.Layer.
func (l *Layer) GroupDiscard(ctx context.Context, group, channel string) error {
	if err := checkNames(group, channel); err != nil {
		return err
	}
	if l.isClosed() {
		return ErrClosed
	}
	if isLocal(channel) && !l.own(channel) {
		err := l.remoteMember(ctx, "discard", group, channel)
		if errors.Is(err, ErrNoReceiver) {
			return nil // its process is gone, and its memberships with it
		}
		return err
	}
	l.removeMember(group, channel)
	return nil
}

// GroupSend implements layer.Layer: one publish on the group's subject;
// each process with members delivers to them.
func (l *Layer) GroupSend(ctx context.Context, group string, msg layer.Message) error {
	if err := layer.ValidGroupName(group); err != nil {
		return err
	}
	if err := layer.ValidMessage(msg); err != nil {
		return err
	}
	if l.isClosed() {
		return ErrClosed
	}
	data, err := encode(msg)
	if err != nil {
		return fmt.Errorf("nats: group send to %s: %w", group, err)
	}
	if err := l.nc.Publish(l.groupSubject(group), data); err != nil {
		return fmt.Errorf("nats: group send to %s: %w", group, l.connErr(err))
	}
	return nil
}

// remoteMember asks the process that owns channel to add or discard it.
func (l *Layer) remoteMember(ctx context.Context, op, group, channel string) error {
	m := nats.NewMsg(l.procSubject(owner(channel)))
	m.Header.Set(hOp, op)
	m.Header.Set(hGroup, group)
	m.Header.Set(hChannel, channel)
	if err := l.request(ctx, m); err != nil {
		return fmt.Errorf("nats: group %s %s in %s: %w", op, channel, group, err)
	}
	return nil
}

// addMember records a membership owned here and, for a group new to this
// process, subscribes to it and waits until the server knows, so a
// GroupSend right after reaches the member.
func (l *Layer) addMember(group, channel string) error {
	l.mu.Lock()
	g := l.groups[group]
	if g != nil {
		g.members[channel] = time.Now()
		l.mu.Unlock()
		return nil
	}
	sub, err := l.nc.Subscribe(l.groupSubject(group), func(m *nats.Msg) { l.handleGroup(group, m) })
	if err != nil {
		l.mu.Unlock()
		return err
	}
	l.groups[group] = &groupState{members: map[string]time.Time{channel: time.Now()}, sub: sub}
	l.mu.Unlock()
	return l.sync(context.Background())
}

func (l *Layer) removeMember(group, channel string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if g := l.groups[group]; g != nil {
		delete(g.members, channel)
		if len(g.members) == 0 {
			g.sub.Unsubscribe()
			delete(l.groups, group)
		}
	}
}

// liveMembers drops a group's expired memberships, and the group when none
// is left, and returns the rest. Callers hold mu.
func (l *Layer) liveMembers(group string) []string {
	g := l.groups[group]
	if g == nil {
		return nil
	}
	cutoff := time.Now().Add(-l.opts.GroupExpiry)
	members := make([]string, 0, len(g.members))
	for ch, joined := range g.members {
		if joined.Before(cutoff) {
			delete(g.members, ch)
			continue
		}
		members = append(members, ch)
	}
	if len(g.members) == 0 {
		g.sub.Unsubscribe()
		delete(l.groups, group)
	}
	return members
}

// handleGroup delivers one group message to this process' members, all
// under one lock, so a receiver that sees it on one member knows the others
// were served too. Fixed-name members are forwarded to their subject.
func (l *Layer) handleGroup(group string, m *nats.Msg) {
	msg, err := decode(m.Data)
	if err != nil {
		l.log.Warn("undecodable group message dropped", "group", group, "err", err)
		return
	}
	var forward []string
	l.mu.Lock()
	for i, ch := range l.liveMembers(group) {
		if !isLocal(ch) {
			forward = append(forward, ch)
			continue
		}
		mm := msg
		if i > 0 { // each receiver owns its map
			mm = maps.Clone(msg)
		}
		if l.push(ch, mm) {
			l.sent.Add(1)
		} else {
			l.groupDrop.Add(1)
		}
	}
	l.mu.Unlock()
	for _, ch := range forward {
		f := nats.NewMsg(l.chanSubject(ch))
		f.Header.Set(hOp, "send")
		f.Header.Set(hChannel, ch)
		f.Data = m.Data
		if err := l.nc.PublishMsg(f); err != nil {
			l.groupDrop.Add(1)
		}
	}
}

func checkNames(group, channel string) error {
	if err := layer.ValidGroupName(group); err != nil {
		return err
	}
	return layer.ValidChannelName(channel)
}
