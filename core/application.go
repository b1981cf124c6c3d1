package core

import (
	"context"
	"errors"
)

// Application handles one scope for its whole life: it reads events from the
// inbox, sends events back through send, and returns when the scope ends.
// Consumers, routers and middleware are all Applications.
type Application interface {
	Serve(ctx context.Context, scope *Scope, inbox Inbox, send SendFunc) error
}

// AppFunc lets an ordinary function be an Application, like http.HandlerFunc.
type AppFunc func(ctx context.Context, scope *Scope, inbox Inbox, send SendFunc) error

// Serve calls f.
func (f AppFunc) Serve(ctx context.Context, scope *Scope, inbox Inbox, send SendFunc) error {
	return f(ctx, scope, inbox, send)
}

// Middleware wraps an Application in another: auth, origin checks, logging.
type Middleware func(Application) Application

// Chain wraps app in the middleware, the first one outermost.
func Chain(app Application, mw ...Middleware) Application {
	for i := len(mw) - 1; i >= 0; i-- {
		app = mw[i](app)
	}
	return app
}

// Event is one typed message in or out of a scope. Its type string follows
// Channels' "protocol.event" naming ("websocket.receive", "chat.message");
// channel-layer messages (layer.Message) are Events too.
type Event interface {
	Type() string
}

// SendFunc sends an event (an action such as websocket.send) back to the
// adapter that owns the scope.
type SendFunc func(ctx context.Context, ev Event) error

// Inbox is the bounded queue of events for one scope instance. It carries
// protocol events and channel-layer messages alike, in arrival order.
type Inbox <-chan Event

// ErrScopeClosed is returned when an event is delivered to, or read by, an
// instance whose scope has already ended.
var ErrScopeClosed = errors.New("core: scope closed")

// Next waits for the next event. It returns ctx's error when the instance is
// being stopped, so a consumer loop can simply return it.
func (in Inbox) Next(ctx context.Context) (Event, error) {
	select {
	case ev := <-in:
		return ev, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
