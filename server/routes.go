package server

import (
	"fmt"
	"net/http"

	wsproto "github.com/hubhq/hub/core/websocket"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins"
)

// websocketApp builds the WebSocket application: a URLRouter of named plugin
// consumers behind the origin check, so no consumer ever sees a cross-site
// handshake.
func websocketApp(b *builder) (core.Application, error) {
	cfg := b.cfg
	router := make(core.URLRouter, 0, len(cfg.Routes.WebSocket))
	for i, r := range cfg.Routes.WebSocket {
		at := fmt.Sprintf("routes.websocket[%d]", i)
		app, err := b.consumer(at, "websocket "+r.Path, r.Consumer, r.Options)
		if err != nil {
			return nil, err
		}
		route, err := core.ParsePath(r.Path, app)
		if err != nil {
			return nil, cfg.Errorf(at+".path", "%v", err)
		}
		router = append(router, route)
	}
	return wsproto.OriginValidator(cfg.AllowedOrigins...)(router), nil
}

// newMux serves the plugin pages of cfg's routes.http beside the hub's own
// endpoints.
func (s *Server) newMux(cfg *config.Config) (mux *http.ServeMux, err error) {
	mux = http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	// The metrics handler reads the store and layer, which New opens only
	// after the routes proved buildable.
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) { s.metricsHandler.ServeHTTP(w, r) })
	for i, r := range cfg.Routes.HTTP {
		h, ok := plugins.Handler(r.Handler)
		if !ok {
			return nil, cfg.Errorf(fmt.Sprintf("routes.http[%d].handler", i), "unknown page handler %q", r.Handler)
		}
		if err := handle(mux, r.Path, h); err != nil {
			return nil, cfg.Errorf(fmt.Sprintf("routes.http[%d].path", i), "%v", err)
		}
	}
	return mux, nil
}

// mountWebhooks serves the webhooks of the Telegram bots among us.
func mountWebhooks(cfg *config.Config, mux *http.ServeMux, us units) error {
	for _, u := range us {
		if u.hook == nil {
			continue
		}
		if err := handle(mux, u.hookPath, u.hook); err != nil {
			return cfg.Errorf("routes.http", "the webhook %s: %v", u.hookPath, err)
		}
	}
	return nil
}

// handle registers a pattern from the config; ServeMux panics on a bad or
// conflicting pattern, which here is a config mistake, not a bug.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// healthz answers 200 while the store can be read.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.db.SchemaVersion(); err != nil {
		http.Error(w, "store: unavailable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// RouteInfo is one row of the routing table that `hub routes` prints.
type RouteInfo struct {
	Protocol string // websocket, http, telegram, discord, mqtt, channel
	Match    string // path pattern, topic or channel; "*" for every chat of a bot
	Via      string // the bot or broker, for chat and MQTT routes
	Target   string // the consumer, page handler, or "(hub)" endpoint
}

// Routes lists what cfg routes where, in config order, the hub's own HTTP
// endpoints included.
func Routes(cfg *config.Config) []RouteInfo {
	var rs []RouteInfo
	for _, r := range cfg.Routes.WebSocket {
		rs = append(rs, RouteInfo{Protocol: "websocket", Match: r.Path, Target: r.Consumer})
	}
	for _, r := range cfg.Routes.HTTP {
		rs = append(rs, RouteInfo{Protocol: "http", Match: r.Path, Target: r.Handler + " (page)"})
	}
	rs = append(rs,
		RouteInfo{Protocol: "http", Match: "/healthz", Target: "(hub) health check"},
		RouteInfo{Protocol: "http", Match: "/metrics", Target: "(hub) prometheus metrics"})
	for _, r := range cfg.Routes.Telegram {
		rs = append(rs, RouteInfo{Protocol: "telegram", Match: "*", Via: botOrAll(r.Bot), Target: r.Consumer})
	}
	for _, r := range cfg.Routes.Discord {
		rs = append(rs, RouteInfo{Protocol: "discord", Match: "*", Via: botOrAll(r.Bot), Target: r.Consumer})
	}
	for _, r := range cfg.Routes.MQTT {
		rs = append(rs, RouteInfo{Protocol: "mqtt", Match: r.Topic, Via: r.Broker, Target: r.Consumer})
	}
	for _, r := range cfg.Routes.Channel {
		rs = append(rs, RouteInfo{Protocol: "channel", Match: r.Channel, Via: "hub worker", Target: r.Consumer})
	}
	return rs
}

func botOrAll(bot string) string {
	if bot == "" {
		return "(every bot)"
	}
	return bot
}
