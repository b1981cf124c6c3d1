package mqtt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/internal/servertest"
)

func TestMessageReachesConsumer(t *testing.T) {
	m := startMosquitto(t)
	events := make(chan got, 16)
	route := hubmqtt.Topic("sensors/{device}/temperature", recorder(events))
	subs := SubscriptionsFor(hubmqtt.TopicRouter{route}.Filters(), 1)
	startHub(t, m, BrokerConfig{ClientID: "hub-reach", Subscriptions: subs}, Options{}, route)

	mosquittoPub(t, m, "sensors/kitchen/temperature", 1, "21.5")
	g, msg := nextMessage(t, events)
	if g.key != "mqtt:main:sensors/kitchen/temperature" || g.params["device"] != "kitchen" {
		t.Fatalf("scope %q params %v", g.key, g.params)
	}
	if text(t, msg) != "21.5" || msg.QoS != 1 || msg.Retained || msg.Broker != "main" || msg.Topic != "sensors/kitchen/temperature" {
		t.Fatalf("message %+v", msg)
	}
}

func TestBadPayloadIsTheConsumersBusiness(t *testing.T) {
	m := startMosquitto(t)
	events := make(chan got, 16)
	// strict ends its scope on a bad payload and panics on a poison one:
	// either ends that one scope, never the adapter.
	strict := core.AppFunc(func(ctx context.Context, s *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		ev, err := inbox.Next(ctx)
		if err != nil {
			return err
		}
		var v struct {
			C      float64
			Poison bool
		}
		err = ev.(hubmqtt.Message).JSON(&v)
		events <- got{key: s.Key, ev: ev}
		if v.Poison {
			panic("poison payload")
		}
		return err
	})
	h := startHub(t, m, BrokerConfig{ClientID: "hub-bad", Subscriptions: []Subscription{{Filter: "raw/#", QoS: 1}}},
		Options{}, hubmqtt.Topic("raw/#", strict))

	c := client(t, m, "")
	payloads := [][]byte{{0xff, 0x00, 0xfe}, nil, []byte("{not json"), make([]byte, 256<<10), []byte(`{"poison":true}`), []byte(`{"c":1}`)}
	for i, p := range payloads {
		// One topic each: a scope that ended takes what was already in its
		// inbox with it, so this test gives every payload a scope of its own.
		topic := fmt.Sprintf("raw/%d", i)
		if tok := c.Publish(topic, 1, false, p); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		_, msg := nextMessage(t, events)
		if msg.Topic != topic || !slices.Equal(msg.Payload, p) {
			t.Fatalf("%s: payload of %d bytes came on %s as %d bytes", topic, len(p), msg.Topic, len(msg.Payload))
		}
	}
	poll.Until(t, patience, "1 panicked and 4 failed scopes", func() bool {
		return h.rt.Metrics.Panics.Load() == 1 && h.rt.Metrics.Failed.Load() == 4
	})
}

func TestConsumerPublishes(t *testing.T) {
	m := startMosquitto(t)
	errs := make(chan error, 4)
	echo := core.AppFunc(func(ctx context.Context, s *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			in, ok := ev.(hubmqtt.Message)
			if !ok {
				return nil
			}
			errs <- send(ctx, hubmqtt.Publish{Topic: "reply/" + s.Param("device"), Payload: append([]byte("ack:"), in.Payload...), QoS: in.QoS})
			errs <- send(ctx, hubmqtt.Publish{Topic: "bad/#", Payload: []byte("x")})
		}
	})
	startHub(t, m, BrokerConfig{ClientID: "hub-echo", Subscriptions: []Subscription{{Filter: "cmd/+", QoS: 2}}},
		Options{}, hubmqtt.Topic("cmd/{device}", echo))

	sub := client(t, m, "")
	replies := make(chan string, 4)
	if tok := sub.Subscribe("reply/#", 2, func(_ paho.Client, msg paho.Message) {
		replies <- fmt.Sprintf("%s %s qos%d", msg.Topic(), msg.Payload(), msg.Qos())
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	mosquittoPub(t, m, "cmd/lamp", 2, "on") // QoS 2 both ways
	select {
	case r := <-replies:
		if r != "reply/lamp ack:on qos2" {
			t.Fatalf("reply %q", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no reply")
	}
	if err := <-errs; err != nil {
		t.Fatalf("good publish: %v", err)
	}
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "wildcards") {
		t.Fatalf("publish to a wildcard topic: %v; want an error", err)
	}
}

func TestIdleScopeCloses(t *testing.T) {
	m := startMosquitto(t)
	events := make(chan got, 16)
	h := startHub(t, m, BrokerConfig{ClientID: "hub-idle", Subscriptions: []Subscription{{Filter: "idle/#", QoS: 1}}},
		Options{IdleTimeout: 200 * time.Millisecond}, hubmqtt.Topic("idle/#", recorder(events)))
	opened := h.rt.Metrics.Opened.Load()

	mosquittoPub(t, m, "idle/a", 1, "1")
	nextMessage(t, events)
	if g := next(t, events); g.ev != (hubmqtt.Disconnect{Reason: "idle"}) {
		t.Fatalf("after idle: %#v; want Disconnect{idle}", g.ev)
	}
	mosquittoPub(t, m, "idle/a", 1, "2")
	if _, msg := nextMessage(t, events); text(t, msg) != "2" {
		t.Fatalf("second message %q", msg.Payload)
	}
	if n := h.rt.Metrics.Opened.Load() - opened; n != 2 {
		t.Fatalf("%d scopes opened for idle/a; want 2 (one per burst)", n)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	rt := &core.Runtime{App: hubmqtt.TopicRouter{}}
	ok := BrokerConfig{Name: "b", URL: "tcp://127.0.0.1:1883", ClientID: "x"}
	tests := map[string]func(*Options){
		"no runtime":         func(o *Options) { o.Runtime = nil },
		"no brokers":         func(o *Options) { o.Brokers = nil },
		"no name":            func(o *Options) { o.Brokers[0].Name = "" },
		"colon in name":      func(o *Options) { o.Brokers[0].Name = "a:b" },
		"twice":              func(o *Options) { o.Brokers = append(o.Brokers, ok) },
		"persistent no id":   func(o *Options) { o.Brokers[0].ClientID = "" },
		"scheme":             func(o *Options) { o.Brokers[0].URL = "http://x" },
		"qos 3":              func(o *Options) { o.Brokers[0].Subscriptions = []Subscription{{Filter: "a", QoS: 3}} },
		"will without topic": func(o *Options) { o.Brokers[0].Will = &Will{} },
		"missing CA":         func(o *Options) { o.Brokers[0].CAFile = "/nonexistent/ca.pem" },
		"cert without key":   func(o *Options) { o.Brokers[0].CertFile = "/nonexistent/c.pem" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			o := Options{Runtime: rt, Brokers: []BrokerConfig{ok}}
			mutate(&o)
			if _, err := New(o); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	if _, err := New(Options{Runtime: rt, Brokers: []BrokerConfig{ok}}); err != nil {
		t.Fatalf("good config: %v", err)
	}
	if _, err := New(Options{Runtime: rt, Brokers: []BrokerConfig{{Name: "c", URL: "tcp://h:1", CleanSession: true}}}); err != nil {
		t.Fatalf("clean session without client id: %v", err)
	}
}

// TestRunStopsWhileBrokerUnreachable: an unreachable broker is retried, not
// fatal, and does not keep Run from returning.
func TestRunStopsWhileBrokerUnreachable(t *testing.T) {
	port := servertest.FreePort(t) // nothing listens there
	a, err := New(Options{Runtime: &core.Runtime{App: hubmqtt.TopicRouter{}}, PublishTimeout: 500 * time.Millisecond,
		Brokers: []BrokerConfig{{Name: "gone", URL: fmt.Sprintf("tcp://127.0.0.1:%d", port), ClientID: "hub-gone"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	err = a.Publish(ctx, "gone", hubmqtt.Publish{Topic: "x", Payload: []byte("y"), QoS: 1})
	if err == nil {
		t.Fatal("publish to an unreachable broker succeeded")
	} else {
		t.Log(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := a.Run(context.Background()); err == nil {
		t.Fatal("a second Run was accepted")
	}
}

// TestEndedScopeGivesBackWhatItDidNotRead: a consumer that ends its scope
// on a bad payload does not take the messages queued behind it along; they
// go to a new scope, in order.
func TestEndedScopeGivesBackWhatItDidNotRead(t *testing.T) {
	m := startMosquitto(t)
	events := make(chan got, 16)
	release := make(chan struct{})
	var stuck atomic.Pointer[core.Inbox] // the inbox of the scope holding on
	strict := core.AppFunc(func(ctx context.Context, s *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		ev, err := inbox.Next(ctx)
		if err != nil {
			return err
		}
		if text(t, ev.(hubmqtt.Message)) != "bad" {
			events <- got{key: s.Key, ev: ev}
			return recorder(events).Serve(ctx, s, inbox, send)
		}
		stuck.Store(&inbox)
		select { // hold on until the rest is in the inbox
		case <-release:
		case <-ctx.Done():
		}
		return errors.New("bad payload")
	})
	h := startHub(t, m, BrokerConfig{ClientID: "hub-giveback", Subscriptions: []Subscription{{Filter: "gb/#", QoS: 1}}},
		Options{}, hubmqtt.Topic("gb/#", strict))
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })

	mosquittoPub(t, m, "gb/x", 1, append([]string{"bad"}, seq(1, 5)...)...)
	poll.Until(t, patience, "five messages in the stuck scope's inbox", func() bool {
		in := stuck.Load()
		return in != nil && len(*in) == 5
	})
	once.Do(func() { close(release) })
	for i := 1; i <= 5; i++ {
		if _, msg := nextMessage(t, events); text(t, msg) != strconv.Itoa(i) {
			t.Fatalf("message %d: %q", i, msg.Payload)
		}
	}
	if f := h.rt.Metrics.Failed.Load(); f != 1 {
		t.Fatalf("failed scopes %d; want 1", f)
	}
}
