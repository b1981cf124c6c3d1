package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/hubhq/hub/config"
)

// Reload applies cfg, the config file read again, to the running hub
// without a restart. Everything cfg asks for is built before anything
// changes, so an error (a plugin refusing its options, a bot without a
// token) leaves the hub as it was and is returned, as a *config.Error at
// its line where it has one.
//
// Then new scopes and requests take the new routes, while open scopes
// (WebSocket connections, chat conversations) keep the consumer they
// started with until they end. A route whose consumer and options did not
// change keeps its consumer (an exec plugin its process, a Service its
// Run); consumers no route uses any more are stopped and closed. Bots and
// MQTT broker connections that were added start, removed ones stop (their
// scopes get their disconnect), changed ones restart; the others, with
// their scopes, are left alone. A bot or broker a reload started that
// fails is logged and does not stop the hub.
//
// Settings the running hub cannot change (listen, store, layer, websocket,
// inbox, log, mqtt_broker) keep their running value, with a warning each.
// One log line sums up what changed.
func (s *Server) Reload(cfg *config.Config) error {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	if s.phase == stopped {
		return errors.New("server: reload: the hub has stopped")
	}
	restart := s.keepRunning(cfg)
	old := s.routes.Load()
	r, err := newRouting(cfg, old.consumers)
	if err != nil {
		return err
	}
	ch, mux, err := s.plan(cfg, r)
	if err != nil {
		r.consumers.without(old.consumers).release()
		return err
	}

	prev := s.current
	s.routes.Store(r)
	s.mux.Store(mux)
	s.current, s.units = cfg, ch.next
	built := r.consumers.without(old.consumers)
	if s.phase == running { // else Run starts what is there when it begins
		if err := haltAll(ch.stop); err != nil {
			s.log.Warn("reload: stopping a bot or broker connection", "err", err)
		}
		for _, u := range ch.start {
			u.start(func(err error) {
				s.log.Error("reload: a bot or broker connection stopped; the hub runs on without it", "err", err)
			})
		}
		built.start(s.env())
	}
	dropped := old.consumers.without(r.consumers)
	if err := dropped.release(); err != nil {
		s.log.Warn("reload: closing a plugin no route uses", "err", err)
	}
	s.log.Info("reloaded", summary(prev, cfg, ch, len(built), len(dropped), restart)...)
	return nil
}

// plan makes the units cfg asks for and compares them with the running
// ones, and builds the mux that serves cfg's pages and webhooks.
func (s *Server) plan(cfg *config.Config, r *routing) (change, *http.ServeMux, error) {
	wanted, err := s.newUnits(cfg, r)
	if err != nil {
		return change{}, nil, err
	}
	ch := diff(s.units, wanted)
	mux, err := s.newMux(cfg)
	if err == nil {
		err = mountWebhooks(cfg, mux, ch.next)
	}
	return ch, mux, err
}

// keepRunning gives the settings of next that a running hub cannot change
// their running value back, and warns, at its line, about each one that
// differed. It returns their keys.
func (s *Server) keepRunning(next *config.Config) []string {
	run := s.cfg
	settings := []struct {
		key     string
		changed bool
	}{
		{"listen", restore(run.Listen, &next.Listen)},
		{"store", restore(run.Store, &next.Store)},
		{"layer", restore(run.Layer, &next.Layer)},
		{"websocket", restore(run.WebSocket, &next.WebSocket)},
		{"inbox", restore(run.Inbox, &next.Inbox)},
		{"log", restore(run.Log, &next.Log)},
		{"mqtt_broker", restore(run.MQTTBroker, &next.MQTTBroker)},
	}
	var keys []string
	for _, st := range settings {
		if st.changed {
			keys = append(keys, st.key)
			s.log.Warn("reload: this setting needs a restart; the running value stays", "at", next.Errorf(st.key, "changed").Error())
		}
	}
	return keys
}

// restore sets *wanted to running and reports whether it was different.
func restore[T any](running T, wanted *T) bool {
	if reflect.DeepEqual(running, *wanted) {
		return false
	}
	*wanted = running
	return true
}

// summary are the attributes of the one log line a reload writes: what
// changed, by name; never a token or an option (options may hold secrets).
func summary(prev, next *config.Config, ch change, built, dropped int, restart []string) []any {
	added, removed := routesDiff(Routes(prev), Routes(next))
	attrs := []any{slog.String("config", next.File())}
	for _, a := range []struct {
		key  string
		list []string
	}{
		{"routes_added", added}, {"routes_removed", removed},
		{"started", ch.started}, {"stopped", ch.stopped}, {"restarted", ch.restarted},
		{"needs_restart", restart},
	} {
		if len(a.list) > 0 {
			attrs = append(attrs, slog.String(a.key, strings.Join(a.list, ", ")))
		}
	}
	if built > 0 || dropped > 0 {
		attrs = append(attrs, slog.Int("plugins_built", built), slog.Int("plugins_dropped", dropped))
	}
	if len(attrs) == 1 {
		attrs = append(attrs, slog.Bool("unchanged", true))
	}
	return attrs
}

// routesDiff lists the routes only in next (added) and only in prev.
func routesDiff(prev, next []RouteInfo) (added, removed []string) {
	for _, r := range next {
		if !slices.Contains(prev, r) {
			added = append(added, r.String())
		}
	}
	for _, r := range prev {
		if !slices.Contains(next, r) {
			removed = append(removed, r.String())
		}
	}
	return added, removed
}

// String is the route as the reload log names it: "websocket
// /ws/chat/{room}/ → chatroom", "telegram * via support → echo".
func (r RouteInfo) String() string {
	s := r.Protocol + " " + r.Match
	if r.Via != "" {
		s += " via " + r.Via
	}
	return fmt.Sprintf("%s → %s", s, r.Target)
}
