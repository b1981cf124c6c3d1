package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/plugins/chatroom"
	"github.com/hubhq/hub/store"
)

const (
	// rejoinEvery refreshes the relay's group membership, which the layer
	// forgets after its group expiry (a day by default) without a new
	// GroupAdd; any expiry over this works.
	rejoinEvery = 30 * time.Second
	// retryAfter paces Receive after a layer error (Redis restarting).
	retryAfter = time.Second
	// leaveTimeout bounds leaving the group once the relay stops.
	leaveTimeout = 5 * time.Second
)

// rooms holds, per room, a one-slot semaphore taken by the room's running
// relay. The bridge is built once per route (a Telegram and a Discord
// route: two values, two Runs); one relay per room and process posts each
// message once, the others stand by and take over if a reload drops it.
var rooms sync.Map // room → chan struct{}

// Run implements plugins.Service: the relay of the room, until ctx ends.
func (b *Bridge) Run(ctx context.Context, env plugins.Env) error {
	switch {
	case env.Layer == nil:
		return errors.New("bridge: the hub runs without a channel layer (layer: none), and the room is a layer group")
	case env.Store == nil:
		return errors.New("bridge: the hub runs without a store, and the bridge's message map is kept there")
	}
	log := env.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("room", b.room)
	release, ok := claim(ctx, b.room, log)
	if !ok {
		return nil
	}
	defer release()
	r := &relay{Bridge: b, layer: env.Layer, db: env.Store, log: log}
	return r.run(ctx)
}

// claim waits until the room has no other relay in this process, or ctx
// ends (ok is false).
func claim(ctx context.Context, room string, log *slog.Logger) (release func(), ok bool) {
	v, _ := rooms.LoadOrStore(room, make(chan struct{}, 1))
	sem := v.(chan struct{})
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, true
	default:
	}
	log.Debug("the room's relay runs on another route; standing by")
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, true
	case <-ctx.Done():
		return nil, false
	}
}

// relay posts the room's messages in every endpoint but their origin.
type relay struct {
	*Bridge
	layer layer.Layer
	db    *store.DB
	log   *slog.Logger
}

func (r *relay) run(ctx context.Context) error {
	channel, err := r.layer.NewChannel(ctx, "bridge")
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	group := chatroom.Group(r.room)
	if err := r.layer.GroupAdd(ctx, group, channel); err != nil {
		return fmt.Errorf("bridge: join room %s: %w", r.room, err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
		defer cancel()
		_ = r.layer.GroupDiscard(ctx, group, channel) // it expires anyway
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { r.keepJoined(ctx, group, channel) })

	r.log.Info("bridge relaying", "endpoints", len(r.endpoints))
	for {
		msg, err := r.layer.Receive(ctx, channel)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.log.Warn("bridge: could not receive; retrying", "in", retryAfter, "err", err)
			if sleep(ctx, retryAfter) != nil {
				return nil
			}
		default:
			r.handle(ctx, msg)
		}
	}
}

// keepJoined renews the group membership until ctx ends.
func (r *relay) keepJoined(ctx context.Context, group, channel string) {
	for sleep(ctx, rejoinEvery) == nil {
		if err := r.layer.GroupAdd(ctx, group, channel); err != nil && ctx.Err() == nil {
			r.log.Warn("bridge: could not renew the room membership", "err", err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *relay) handle(ctx context.Context, m layer.Message) {
	var err error
	switch m.Type() {
	case chatroom.MessageType:
		err = r.message(ctx, m)
	case chatroom.EditedType:
		err = r.edited(ctx, m)
	case chatroom.DeletedType:
		err = r.deleted(ctx, m)
	}
	if err != nil {
		r.log.Warn("bridge: "+m.Type()+" not relayed", "origin", str(m, fieldOrigin), "err", err)
	}
}

// message links the message's original and posts a copy in every other
// endpoint, each linked by its adapter (chat.Send.HubID) once sent. A line
// from the browser room has no origin: its original is the room line,
// linked as "chatroom:<room>", and its chatroom id is its hub id.
func (r *relay) message(ctx context.Context, m layer.Message) error {
	text := str(m, "message")
	if text == "" {
		return nil
	}
	hubID := str(m, "id")
	if hubID == "" { // a foreign publisher's line: nobody can edit it
		hubID = newID()
	}
	origin := str(m, fieldOrigin)
	original := store.MessageCopy{Scope: origin, ID: str(m, fieldOriginID)}
	if origin == "" {
		original = store.MessageCopy{Scope: "chatroom:" + r.room, ID: hubID}
	}
	if original.ID == "" {
		return fmt.Errorf("no %s", fieldOriginID)
	}
	// The original is linked before any copy, so it is the first of
	// MessageCopies: deleted tells it apart from copies by that.
	if err := r.db.MessageLink(ctx, hubID, original); err != nil {
		r.log.Warn("bridge: message not linked; edits of it will not follow", "err", err)
	}
	var replied []store.MessageCopy
	if to := str(m, fieldReplyTo); to != "" && origin != "" {
		_, replied = r.find(ctx, store.MessageCopy{Scope: origin, ID: to})
	}
	if origin != "" { // the chat room keeps its members' lines itself
		if err := chatroom.Remember(ctx, r.db, r.room, hubID, str(m, "user"), text, r.history); err != nil {
			r.log.Warn("bridge: line not kept in the room's history", "err", err)
		}
	}
	text = line(m, text)
	for _, ep := range r.endpoints {
		if ep.key != origin {
			r.act(ctx, ep, chat.Send{Text: text, ReplyTo: copyIn(replied, ep.key), HubID: hubID})
		}
	}
	return nil
}

// edited records the edit in the room's history and changes every copy of
// the edited original.
func (r *relay) edited(ctx context.Context, m layer.Message) error {
	origin := store.MessageCopy{Scope: str(m, fieldOrigin), ID: str(m, fieldOriginID)}
	text := str(m, "message")
	if origin.Scope == "" || text == "" {
		return nil
	}
	hubID, copies := r.find(ctx, origin)
	if hubID == "" {
		hubID = str(m, "id")
	}
	if hubID != "" {
		if err := chatroom.RememberEdit(ctx, r.db, r.room, hubID, str(m, "user"), text, r.history); err != nil {
			r.log.Warn("bridge: edit not kept in the room's history", "err", err)
		}
	}
	text = line(m, text)
	for _, ep := range r.endpoints {
		if id := copyIn(copies, ep.key); id != "" && ep.key != origin.Scope {
			r.act(ctx, ep, chat.Edit{MessageID: id, Text: text})
		}
	}
	return nil
}

// deleted removes a deleted original from the room's history and every
// copy of it. Deleting a copy (a moderator did, or this relay deleting
// copies) stays where it happened, so the relay's own deletions do not
// come back to it; browsers are told of it too, but its id (see hubID)
// names no line of theirs.
func (r *relay) deleted(ctx context.Context, m layer.Message) error {
	origin := store.MessageCopy{Scope: str(m, fieldOrigin), ID: str(m, fieldOriginID)}
	if origin.Scope == "" {
		return nil
	}
	hubID, copies := r.find(ctx, origin)
	if len(copies) > 0 && copies[0] != origin {
		return nil // a copy
	}
	if hubID == "" {
		hubID = str(m, "id")
	}
	if hubID != "" {
		if err := chatroom.RememberDelete(ctx, r.db, r.room, hubID, r.history); err != nil {
			r.log.Warn("bridge: deletion not kept in the room's history", "err", err)
		}
	}
	for _, ep := range r.endpoints {
		if id := copyIn(copies, ep.key); id != "" && ep.key != origin.Scope {
			r.act(ctx, ep, chat.Delete{MessageID: id})
		}
	}
	return nil
}

// find returns the hub message that c is a copy of, and all its copies;
// nothing for a message the bridge never saw (or the map forgot).
func (r *relay) find(ctx context.Context, c store.MessageCopy) (hubID string, copies []store.MessageCopy) {
	hubID, ok, err := r.db.MessageHubID(ctx, c)
	if err == nil && ok {
		copies, err = r.db.MessageCopies(ctx, hubID)
	}
	if err != nil {
		r.log.Warn("bridge: message map", "scope", c.Scope, "id", c.ID, "err", err)
	}
	return hubID, copies
}

// act asks the endpoint's bot to take an action. A failure is logged: the
// other endpoints still get theirs.
func (r *relay) act(ctx context.Context, ep endpoint, action core.Event) {
	msg, err := chat.ActionMessage(ep.key, action)
	if err == nil {
		err = r.layer.Send(ctx, ep.actions, msg)
	}
	if err != nil && ctx.Err() == nil {
		r.log.Warn("bridge: "+action.Type()+" not relayed", "to", ep.key, "err", err)
	}
}

// copyIn is the id of the copy in the conversation scope, or "".
func copyIn(copies []store.MessageCopy, scope string) string {
	for _, c := range copies {
		if c.Scope == scope {
			return c.ID
		}
	}
	return ""
}

// line is how a message reads elsewhere: "Ada: hi".
func line(m layer.Message, text string) string {
	user := str(m, "user")
	if user == "" {
		user = "Anonymous"
	}
	return user + ": " + text
}

func str(m layer.Message, key string) string {
	s, _ := m[key].(string)
	return s
}
