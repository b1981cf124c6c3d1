package mqtt

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/internal/poll"
)

// TestConsumerPublishesWhileItsTopicIsFlooded is the P4 benchmark's stall:
// a consumer that publishes at QoS 1 on the broker it reads from, and falls
// behind on its topic until the queue is full and the message handler holds
// the connection. Its publishes must still be acknowledged: every message is
// relayed, in order, and no publish times out.
func TestConsumerPublishesWhileItsTopicIsFlooded(t *testing.T) {
	m := startMosquitto(t)
	const n = 300
	release := make(chan struct{})
	errs := make(chan error, 1)
	relay := core.AppFunc(func(ctx context.Context, s *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		select { // behind from the start: the flood fills the queue
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			in, ok := ev.(hubmqtt.Message)
			if !ok {
				return nil
			}
			if err := send(ctx, hubmqtt.Publish{Topic: "relayed/" + s.Param("n"), Payload: in.Payload, QoS: 1}); err != nil {
				select {
				case errs <- err:
				default:
				}
				return err
			}
		}
	})
	// A short PublishTimeout: before the fix the stalled publish failed
	// after it, and the scope's message was lost.
	h := startHub(t, m, BrokerConfig{ClientID: "hub-flood", Subscriptions: []Subscription{{Filter: "flood/+", QoS: 1}}},
		Options{QueueSize: 4, PublishTimeout: 3 * time.Second, Runtime: &core.Runtime{InboxSize: 1}},
		hubmqtt.Topic("flood/{n}", relay))
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })

	relayed := make(chan string, n)
	sub := client(t, m, "")
	if tok := sub.Subscribe("relayed/x", 1, func(_ paho.Client, msg paho.Message) {
		relayed <- string(msg.Payload())
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub := client(t, m, "")
	var toks []paho.Token
	for i := range n {
		toks = append(toks, pub.Publish("flood/x", 1, false, fmt.Sprint(i)))
	}
	c := h.a.conns[0]
	poll.Until(t, patience, "the handler to hold the connection on the full queue", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.topics["flood/x"] != nil && c.topics["flood/x"].waiters > 0
	})
	once.Do(func() { close(release) })

	deadline := time.After(30 * time.Second)
	for i := range n {
		select {
		case p := <-relayed:
			if p != fmt.Sprint(i) {
				t.Fatalf("relayed message %d is %q", i, p)
			}
		case err := <-errs:
			t.Fatalf("consumer's publish after %d relayed: %v", i, err)
		case <-deadline:
			t.Fatalf("%d of %d relayed within 30s", i, n)
		}
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("flood publish: %v", tok.Error())
		}
	}
	select {
	case err := <-errs:
		t.Fatalf("consumer's publish: %v", err)
	default:
	}
}
