package mqtt

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/internal/poll"
)

// TestBurstKeepsOrderPerTopicPastASlowConsumer: 1,000 messages over three
// topics arrive complete and in order per topic while the consumer of a
// fourth topic is stuck: a slow topic does not stall the others.
func TestBurstKeepsOrderPerTopicPastASlowConsumer(t *testing.T) {
	m := startMosquitto(t)
	events := make(chan got, 1100)
	stuck, release := make(chan struct{}), make(chan struct{})
	slow := core.AppFunc(func(ctx context.Context, _ *core.Scope, inbox core.Inbox, _ core.SendFunc) error {
		if _, err := inbox.Next(ctx); err != nil {
			return err
		}
		close(stuck)
		select { // a consumer busy for as long as the test likes
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	startHub(t, m, BrokerConfig{ClientID: "hub-burst", Subscriptions: []Subscription{{Filter: "burst/#", QoS: 1}}},
		Options{QueueSize: 16}, hubmqtt.Topic("burst/slow", slow), hubmqtt.Topic("burst/{lane}", recorder(events)))
	t.Cleanup(func() { // before the hub stops (cleanups run last first)
		select {
		case <-release:
		default:
			close(release)
		}
	})

	pub := client(t, m, "")
	if tok := pub.Publish("burst/slow", 1, false, "first"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case <-stuck:
	case <-time.After(15 * time.Second):
		t.Fatal("slow consumer never got its message")
	}
	// A few more for the stuck topic: they wait in its queue, not in the way.
	for i := range 5 {
		pub.Publish("burst/slow", 1, false, fmt.Sprint(i))
	}

	const n = 1000
	lanes := []string{"a", "b", "c"}
	var toks []interface{ WaitTimeout(time.Duration) bool }
	for i := range n {
		toks = append(toks, pub.Publish("burst/"+lanes[i%3], 1, false, fmt.Sprint(i)))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(15 * time.Second) {
			t.Fatal("publish not acknowledged")
		}
	}
	last := map[string]int{"a": -3, "b": -2, "c": -1} // lane a gets 0, 3, 6, …
	for range n {
		g, msg := nextMessage(t, events)
		lane := g.params["lane"]
		var i int
		fmt.Sscan(text(t, msg), &i)
		if i != last[lane]+3 {
			t.Fatalf("lane %s: %d after %d", lane, i, last[lane])
		}
		last[lane] = i
	}
	select {
	case <-release:
		t.Fatal("slow consumer released early")
	default:
	}
}

// TestFullQueueHoldsThenResumes: a consumer stuck long enough to fill its
// topic's queue holds the connection (the only lossless choice); once it
// moves on, everything arrives, in order.
func TestFullQueueHoldsThenResumes(t *testing.T) {
	m := startMosquitto(t)
	events := make(chan got, 64)
	release := make(chan struct{})
	app := core.AppFunc(func(ctx context.Context, s *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		return recorder(events).Serve(ctx, s, inbox, send)
	})
	h := startHub(t, m, BrokerConfig{ClientID: "hub-full", Subscriptions: []Subscription{{Filter: "full/#", QoS: 1}}},
		Options{QueueSize: 2, Runtime: &core.Runtime{InboxSize: 1}}, hubmqtt.Topic("full/#", app))
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })

	mosquittoPub(t, m, "full/x", 1, seq(1, 30)...)
	c := h.a.conns[0]
	poll.Until(t, patience, "the handler to wait on the full queue", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.topics["full/x"] != nil && c.topics["full/x"].waiters > 0
	})
	once.Do(func() { close(release) })
	for i := 1; i <= 30; i++ {
		if _, msg := nextMessage(t, events); text(t, msg) != fmt.Sprint(i) {
			t.Fatalf("message %d: %q", i, msg.Payload)
		}
	}
}
