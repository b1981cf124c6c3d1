package broker_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hubhq/hub/adapters/mqtt"
	"github.com/hubhq/hub/adapters/mqtt/broker"
	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/internal/poll"
)

// run starts a broker on a free port (or addr) and stops it with the test.
func run(t *testing.T, opts broker.Options) (b *broker.Broker, stop func()) {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	b, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return b, stop
}

func connect(t *testing.T, url, id, user, pass string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(id == "").
		SetUsername(user).SetPassword(pass).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("connect timed out")
	}
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(100) })
	}
	return c, tok.Error()
}

// hub runs the adapter against the broker with one consumer that reports
// every message; it returns once the adapter's subscription works.
func hub(t *testing.T, url string, msgs chan<- hubmqtt.Message) (stop func()) {
	t.Helper()
	app := core.AppFunc(func(ctx context.Context, _ *core.Scope, inbox core.Inbox, _ core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			m, ok := ev.(hubmqtt.Message)
			if !ok {
				return nil
			}
			msgs <- m
		}
	})
	router := hubmqtt.TopicRouter{hubmqtt.Topic("dev/{id}/#", app)}
	a, err := mqtt.New(mqtt.Options{Runtime: &core.Runtime{App: router}, Brokers: []mqtt.BrokerConfig{{
		Name: "embedded", URL: url, ClientID: "hub", MaxReconnectInterval: 500 * time.Millisecond,
		Subscriptions: mqtt.SubscriptionsFor(router.Filters(), 1),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

func publish(t *testing.T, c paho.Client, topic, payload string) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// expect waits for payload, skipping readiness probes (QoS 1: a probe may
// come again after a reconnect).
func expect(t *testing.T, msgs <-chan hubmqtt.Message, payload string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m := <-msgs:
			if string(m.Payload) == "probe" {
				continue
			}
			if string(m.Payload) != payload {
				t.Fatalf("got %q on %s; want %q", m.Payload, m.Topic, payload)
			}
			return
		case <-timeout:
			t.Fatalf("no message %q", payload)
		}
	}
}

// waitSubscribed publishes probes until the hub gets one: the adapter
// subscribes asynchronously, on connect.
func waitSubscribed(t *testing.T, dev paho.Client, msgs <-chan hubmqtt.Message) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		publish(t, dev, "dev/0/probe", "probe")
		select {
		case <-msgs:
			return
		case <-tick.C:
		case <-deadline:
			t.Fatal("adapter never subscribed")
		}
	}
}

func TestEmbeddedBrokerServesTheAdapter(t *testing.T) {
	b, _ := run(t, broker.Options{})
	msgs := make(chan hubmqtt.Message, 16)
	hub(t, b.URL(), msgs)
	dev, err := connect(t, b.URL(), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, dev, msgs)
	publish(t, dev, "dev/7/temp", "21.5")
	expect(t, msgs, "21.5")
}

func TestEmbeddedBrokerAuth(t *testing.T) {
	b, _ := run(t, broker.Options{Users: map[string]string{"hub": "s3cret"}})
	if _, err := connect(t, b.URL(), "", "hub", "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := connect(t, b.URL(), "", "", ""); err == nil {
		t.Fatal("anonymous client accepted")
	}
	if _, err := connect(t, b.URL(), "", "hub", "s3cret"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if _, err := broker.New(broker.Options{Addr: "127.0.0.1:0", Users: map[string]string{"x": ""}}); err == nil {
		t.Fatal("empty password accepted")
	}
}

// TestEmbeddedBrokerKeepsSessions: with a DataDir, a QoS 1 message queued
// for the hub's persistent session survives a restart of the broker.
func TestEmbeddedBrokerKeepsSessions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "broker")
	b, stopBroker := run(t, broker.Options{DataDir: dir})
	addr := b.Addr()
	url := b.URL()

	msgs := make(chan hubmqtt.Message, 16)
	stopHub := hub(t, url, msgs)
	dev, err := connect(t, url, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, dev, msgs)
	stopHub()
	publish(t, dev, "dev/1/x", "while the hub was away")
	dev.Disconnect(100)
	stopBroker()

	reopened, err := waitNew(t, broker.Options{Addr: addr, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reopened.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	hub(t, url, msgs)
	expect(t, msgs, "while the hub was away")
}

// waitNew opens the broker again on the same address, which the previous
// one may take a moment to release.
func waitNew(t *testing.T, opts broker.Options) (*broker.Broker, error) {
	t.Helper()
	var b *broker.Broker
	var err error
	poll.Wait(10*time.Second, func() bool {
		b, err = broker.New(opts)
		var op *net.OpError
		return err == nil || !errors.As(err, &op)
	})
	return b, err
}
