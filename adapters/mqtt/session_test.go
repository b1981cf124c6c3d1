package mqtt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	hubmqtt "github.com/hubhq/hub/core/mqtt"
)

// TestQoS1WhileStoppedArrivesAfterRestart: the persistent session (fixed
// client id, clean session off) makes the broker keep what was published
// while the hub was away.
func TestQoS1WhileStoppedArrivesAfterRestart(t *testing.T) {
	m := startMosquitto(t)
	b := BrokerConfig{ClientID: "hub-persist", StoreDir: filepath.Join(t.TempDir(), "store"),
		Subscriptions: []Subscription{{Filter: "jobs/#", QoS: 1}}}
	events := make(chan got, 64)
	first := startHub(t, m, b, Options{}, hubmqtt.Topic("jobs/{queue}", recorder(events)))
	first.stop()

	mosquittoPub(t, m, "jobs/print", 1, seq(1, 20)...)

	startHub(t, m, b, Options{}, hubmqtt.Topic("jobs/{queue}", recorder(events)))
	var payloads []string
	for len(payloads) < 20 {
		g, msg := nextMessage(t, events)
		if g.params["queue"] != "print" {
			t.Fatalf("params %v", g.params)
		}
		payloads = append(payloads, text(t, msg))
	}
	if !slices.Equal(payloads, seq(1, 20)) {
		t.Fatalf("after restart got %v", payloads)
	}
}

// TestBrokerRestartLosesNoQoS1: mosquitto stops mid-stream and comes back on
// the same port with its persistence; the adapter reconnects and every QoS 1
// message arrives (duplicates allowed: QoS 1 is at least once).
func TestBrokerRestartLosesNoQoS1(t *testing.T) {
	m := startMosquitto(t)
	events := make(chan got, 1024)
	b := BrokerConfig{ClientID: "hub-restart", MaxReconnectInterval: 500 * time.Millisecond,
		Subscriptions: []Subscription{{Filter: "stream/#", QoS: 1}}}
	startHub(t, m, b, Options{}, hubmqtt.Topic("stream/#", recorder(events)))

	const n = 300
	pub := client(t, m, "publisher-restart") // persistent too: its in-flight messages survive
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	pubErr := make(chan error, 1)
	wg.Go(func() {
		for i := 1; i <= n; i++ {
			tok := pub.Publish("stream/x", 1, false, fmt.Sprint(i))
			select {
			case <-tok.Done():
			case <-ctx.Done():
				return
			}
			if err := tok.Error(); err != nil {
				pubErr <- fmt.Errorf("publish %d: %w", i, err)
				return
			}
		}
		pubErr <- nil
	})

	seen := map[string]bool{}
	restarted := false
	for len(seen) < n {
		_, msg := nextMessage(t, events)
		seen[text(t, msg)] = true
		if len(seen) == n/3 && !restarted {
			restarted = true
			m.Stop()
			m.Start()
		}
	}
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if !seen[fmt.Sprint(i)] {
			t.Fatalf("message %d lost", i)
		}
	}
}

// TestResubscribeAfterBrokerLostState: the broker comes back with no memory
// of the session, so only the adapter's own resubscribe on connect brings
// messages back.
func TestResubscribeAfterBrokerLostState(t *testing.T) {
	m := startMosquitto(t)
	events := make(chan got, 64)
	b := BrokerConfig{ClientID: "hub-resub", MaxReconnectInterval: 500 * time.Millisecond,
		Subscriptions: []Subscription{{Filter: "resub/#", QoS: 1}}}
	h := startHub(t, m, b, Options{}, hubmqtt.Topic("resub/#", recorder(events)))

	m.Stop()
	if err := os.Remove(filepath.Join(m.Dir, "mosquitto.db")); err != nil {
		t.Fatalf("remove broker state: %v", err)
	}
	m.Start()
	h.waitReady(m)
	mosquittoPub(t, m, "resub/a", 1, "after")
	if _, msg := nextMessage(t, events); text(t, msg) != "after" {
		t.Fatalf("got %q", msg.Payload)
	}
}
