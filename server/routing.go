package server

import (
	"context"
	"sync/atomic"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/core"
)

// routing is what a config's routes build: each protocol's router and the
// consumers they lead to.
type routing struct {
	websocket core.Application
	mqtt      brokerRouter
	telegram  botRouter
	discord   botRouter
	consumers consumerSet
}

// newRouting builds cfg's routes, taking over the consumers of old whose
// route did not change. What it built is released again when it fails.
func newRouting(cfg *config.Config, old consumerSet) (*routing, error) {
	b := newBuilder(cfg, old)
	r, err := b.routing()
	if err != nil {
		b.built.without(old).release()
		return nil, err
	}
	return r, nil
}

func (b *builder) routing() (r *routing, err error) {
	r = &routing{consumers: b.built}
	if r.websocket, err = websocketApp(b); err != nil {
		return nil, err
	}
	if r.mqtt, err = mqttApp(b); err != nil {
		return nil, err
	}
	if r.telegram, err = chatApp(b, "telegram", b.cfg.Routes.Telegram); err != nil {
		return nil, err
	}
	if r.discord, err = chatApp(b, "discord", b.cfg.Routes.Discord); err != nil {
		return nil, err
	}
	return r, nil
}

// live is the application of one protocol's runtime: it resolves each new
// scope through the routing current when the scope starts. A reload swaps
// the routing; a scope already open keeps the consumer it was resolved to
// until it ends.
type live struct {
	routes *atomic.Pointer[routing]
	pick   func(*routing) core.Application
}

// Serve implements core.Application.
func (l live) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	return core.ServeResolved(ctx, l, scope, inbox, send)
}

// Resolve implements core.Resolver.
func (l live) Resolve(scope *core.Scope) (core.Application, *core.Scope, error) {
	return l.pick(l.routes.Load()), scope, nil
}
