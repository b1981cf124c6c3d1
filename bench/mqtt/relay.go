package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	adapter "github.com/hubhq/hub/adapters/mqtt"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/store"
)

// relay moves in/<k> to out/<k> until stopped.
type relay interface {
	stop() error
}

// forward is the hub's consumer under test: the smallest one that relays,
// so the bench measures the hub's path, not a plugin's work. It publishes
// through publish, or through the scope's own connection if that is nil.
func forward(publish func(context.Context, hubmqtt.Publish) error) core.Application {
	return core.AppFunc(func(ctx context.Context, s *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		return relayTopic(ctx, s, inbox, send, publish)
	})
}

func relayTopic(ctx context.Context, s *core.Scope, inbox core.Inbox, send core.SendFunc, publish func(context.Context, hubmqtt.Publish) error) error {
	out := "out/" + s.Param("n")
	for {
		ev, err := inbox.Next(ctx)
		if err != nil {
			return err
		}
		m, ok := ev.(hubmqtt.Message)
		if !ok {
			return nil // mqtt.disconnect
		}
		p := hubmqtt.Publish{Topic: out, Payload: m.Payload, QoS: m.QoS}
		if publish != nil {
			err = publish(ctx, p)
		} else {
			err = send(ctx, p)
		}
		if err != nil {
			return err
		}
	}
}

// hubRelay is the hub's MQTT adapter with a runtime as `hub run` builds it.
type hubRelay struct {
	db     *store.DB
	cancel context.CancelFunc
	done   chan error
}

// With split, the consumer publishes through a second configured broker
// (Adapter.Publish to "out") instead of its scope's own. Before the adapter
// had a publishing connection of its own that kept the acks of its publishes
// from queueing behind held incoming messages; now it is a control.
func startHub(brokerURL, dir string, qos byte, split bool) (relay, error) {
	db, err := store.Open(filepath.Join(dir, fmt.Sprintf("hub-%d.db", time.Now().UnixNano())))
	if err != nil {
		return nil, err
	}
	var a *adapter.Adapter
	var publish func(context.Context, hubmqtt.Publish) error
	brokers := []adapter.BrokerConfig{{Name: "bench", URL: brokerURL, ClientID: "bench-hub", CleanSession: true}}
	if split {
		publish = func(ctx context.Context, p hubmqtt.Publish) error { return a.Publish(ctx, "out", p) }
		brokers = append(brokers, adapter.BrokerConfig{Name: "out", URL: brokerURL, ClientID: "bench-hub-out", CleanSession: true})
	}
	router := hubmqtt.TopicRouter{hubmqtt.Topic("in/{n}", forward(publish))}
	brokers[0].Subscriptions = adapter.SubscriptionsFor(router.Filters(), qos)
	quiet := slog.New(slog.NewTextHandler(logTo, nil))
	a, err = adapter.New(adapter.Options{
		Runtime: &core.Runtime{App: router, Layer: layer.NewMemory(layer.Options{}), Store: db, Logger: quiet},
		Brokers: brokers,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &hubRelay{db: db, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- a.Run(ctx) }()
	return h, nil
}

func (h *hubRelay) stop() error {
	h.cancel()
	err := <-h.done
	if cerr := h.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// bareRelay is what one would write without the hub: one paho client that
// publishes from its message handler. It does not wait for the publish's
// acknowledgement (waiting inside an ordered handler can deadlock paho), so
// it keeps any number of publishes in flight: the strongest baseline.
type bareRelay struct{ c paho.Client }

func startBare(brokerURL string, qos byte) (relay, error) {
	c, err := connect(brokerURL, "bench-bare")
	if err != nil {
		return nil, err
	}
	tok := c.Subscribe("in/+", qos, func(c paho.Client, m paho.Message) {
		c.Publish("out/"+strings.TrimPrefix(m.Topic(), "in/"), m.Qos(), false, m.Payload())
	})
	if err := wait(tok); err != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("bare relay subscribe: %w", err)
	}
	return &bareRelay{c: c}, nil
}

func (b *bareRelay) stop() error {
	b.c.Disconnect(250)
	return nil
}

// connect opens a clean-session paho client.
func connect(brokerURL, id string) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(brokerURL).SetClientID(id).SetCleanSession(true).
		SetOrderMatters(true).SetAutoReconnect(false)
	c := paho.NewClient(o)
	if err := wait(c.Connect()); err != nil {
		return nil, fmt.Errorf("connect %s: %w", id, err)
	}
	return c, nil
}

func wait(tok paho.Token) error {
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("no answer within 10s")
	}
	return tok.Error()
}

// logTo receives the hub's logs: discarded unless -v.
var logTo io.Writer = io.Discard
