package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hubhq/hub/adapters/mqtt"
	"github.com/hubhq/hub/adapters/mqtt/broker"
	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
)

// brokerRouter sends an MQTT scope to the TopicRouter of the broker it came
// through. The adapter names the broker only in the scope key
// ("mqtt:<broker>:<topic>"; broker names have no ':'), so that is where it
// is read.
type brokerRouter map[string]hubmqtt.TopicRouter

// Serve implements core.Application.
func (r brokerRouter) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	return core.ServeResolved(ctx, r, scope, inbox, send)
}

// Resolve implements core.Resolver.
func (r brokerRouter) Resolve(scope *core.Scope) (core.Application, *core.Scope, error) {
	rest, _ := strings.CutPrefix(scope.Key, "mqtt:")
	name, _, _ := strings.Cut(rest, ":")
	router, ok := r[name]
	if !ok {
		return nil, scope, fmt.Errorf("%w for MQTT broker %q", core.ErrNoRoute, name)
	}
	return router, scope, nil
}

// mqttApp builds one TopicRouter per broker from routes.mqtt.
func mqttApp(b *builder) (brokerRouter, error) {
	cfg := b.cfg
	routers := brokerRouter{}
	for i, r := range cfg.Routes.MQTT {
		at := fmt.Sprintf("routes.mqtt[%d]", i)
		app, err := b.consumer(at, "mqtt "+r.Broker+" "+r.Topic, r.Consumer, r.Options)
		if err != nil {
			return nil, err
		}
		route, err := hubmqtt.ParseTopic(r.Topic, app)
		if err != nil {
			return nil, cfg.Errorf(at+".topic", "%v", err)
		}
		routers[r.Broker] = append(routers[r.Broker], route)
	}
	return routers, nil
}

// startBroker makes the embedded broker, binding its port, if the config
// runs one. With users it refuses anonymous clients, the hub's own
// connection included: that gets a user of its own, for this run only.
func (s *Server) startBroker() error {
	e := s.cfg.MQTTBroker
	if !e.On() {
		return nil
	}
	users := map[string]string{}
	for u, pw := range e.Users {
		users[u] = pw.Value()
	}
	if len(users) > 0 {
		s.brokerUser, s.brokerPassword = "hub-"+randomHex(4), randomHex(16)
		users[s.brokerUser] = s.brokerPassword
	}
	b, err := broker.New(broker.Options{Addr: e.Listen, Users: users, DataDir: s.cfg.BrokerDataDir(), Logger: s.log.With("component", "mqtt_broker")})
	if err != nil {
		return fmt.Errorf("server: embedded MQTT broker: %w", err)
	}
	s.broker = b
	return nil
}

// mqttUnits makes one MQTT adapter per broker connection, subscribed to
// what the routes of that broker match, so that a reload which changes
// them reconnects that broker alone.
func (s *Server) mqttUnits(cfg *config.Config, r *routing, us units) error {
	var brokers []mqtt.BrokerConfig
	for _, b := range cfg.MQTT {
		brokers = append(brokers, brokerConfig(b, r.mqtt[b.Name]))
	}
	if s.broker != nil {
		name := s.cfg.MQTTBroker.ConnName()
		brokers = append(brokers, mqtt.BrokerConfig{
			Name: name, URL: s.broker.URL(), ClientID: "hub-" + name, Username: s.brokerUser, Password: s.brokerPassword,
			Subscriptions: mqtt.SubscriptionsFor(r.mqtt[name].Filters(), config.DefaultQoS),
		})
	}
	for _, b := range brokers {
		a, err := mqtt.New(mqtt.Options{Brokers: []mqtt.BrokerConfig{b}, Runtime: s.runtimes.mqtt, Logger: s.log.With("adapter", "mqtt")})
		if err != nil {
			return fmt.Errorf("server: mqtt: %w", err)
		}
		us["mqtt:"+b.Name] = &unit{name: "mqtt adapter of broker " + b.Name, spec: b, run: a.Run}
	}
	return nil
}

func brokerConfig(b config.Broker, router hubmqtt.TopicRouter) mqtt.BrokerConfig {
	c := mqtt.BrokerConfig{
		Name:          b.Name,
		URL:           b.URL,
		ClientID:      b.ID(),
		Username:      b.Username,
		Password:      b.Password.Value(),
		CAFile:        b.CAFile,
		CertFile:      b.CertFile,
		KeyFile:       b.KeyFile,
		CleanSession:  b.CleanSession,
		StoreDir:      b.StoreDir,
		KeepAlive:     b.KeepAlive,
		Subscriptions: mqtt.SubscriptionsFor(router.Filters(), b.SubscribeQoS()),
	}
	if w := b.Will; w.Topic != "" {
		c.Will = &mqtt.Will{Topic: w.Topic, Payload: []byte(w.Payload), QoS: byte(w.QoS), Retain: w.Retain}
	}
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
