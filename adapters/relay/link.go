package relay

import (
	"context"
	"log/slog"
	"time"

	"github.com/hubhq/hub/store"
)

// Links is the store's message map, as far as an adapter writes it;
// *store.DB implements it.
type Links interface {
	MessageLink(ctx context.Context, hubID string, copy store.MessageCopy) error
}

var _ Links = (*store.DB)(nil)

// linkTimeout bounds recording one link. It runs after the message went
// out, so it is not bound by the sender's context, which may end (the hub
// shutting down) before the link is written.
const linkTimeout = 10 * time.Second

// LinksIn returns the first of stores that keeps the message map (an
// adapter passes its Runtime.Store and its other store options), or nil.
func LinksIn(stores ...any) Links {
	for _, s := range stores {
		if l, ok := s.(Links); ok {
			return l
		}
	}
	return nil
}

// Link records id, the platform's id of a copy of hub message hubID sent in
// the conversation scopeKey, in the store's message map, so that a later
// edit, delete or reply of the hub message finds it. An adapter calls it
// once the platform has taken the copy: its outbox when the call is made
// (see outbox.Call), else its direct path. A link that fails is logged: the
// message was sent, so the action still succeeds.
func Link(ctx context.Context, links Links, log *slog.Logger, scopeKey, hubID, id string) {
	switch {
	case links == nil:
		log.Warn("sent a copy of a hub message, but there is no store to link it in", "scope", scopeKey, "hub_id", hubID)
		return
	case id == "":
		// The platform answered without one.
		log.Warn("sent a copy of a hub message whose id is not known yet; not linked", "scope", scopeKey, "hub_id", hubID)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), linkTimeout)
	defer cancel()
	if err := links.MessageLink(ctx, hubID, store.MessageCopy{Scope: scopeKey, ID: id}); err != nil {
		log.Warn("could not link a copy of a hub message", "scope", scopeKey, "hub_id", hubID, "id", id, "err", err)
	}
}
