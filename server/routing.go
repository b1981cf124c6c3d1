package server

import (
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
		b.fresh().release()
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
