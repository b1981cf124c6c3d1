package mqtt

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/internal/servertest"
)

// got is one event a recorder consumer saw, with its scope.
type got struct {
	key    string
	params map[string]string
	ev     core.Event
}

// recorder is a consumer that reports every event of its scope and returns
// on Disconnect, as a well-behaved MQTT consumer does.
func recorder(out chan<- got) core.Application {
	return core.AppFunc(func(ctx context.Context, s *core.Scope, inbox core.Inbox, _ core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			out <- got{key: s.Key, params: s.Params, ev: ev}
			if _, ok := ev.(hubmqtt.Disconnect); ok {
				return nil
			}
		}
	})
}

// readyTopic is a topic every test adapter subscribes to, so a test can
// tell when the adapter is connected and subscribed.
const readyTopic = "hub/ready"

// hub runs one adapter against a broker for a test.
type hub struct {
	t      *testing.T
	a      *Adapter
	rt     *core.Runtime
	ready  chan struct{}
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startHub runs an adapter whose application is routes plus the ready probe,
// and waits until it is subscribed. opts.Runtime, if set, gets that App.
func startHub(t *testing.T, m *mosquitto, b BrokerConfig, opts Options, routes ...hubmqtt.TopicRoute) *hub {
	t.Helper()
	h := &hub{t: t, ready: make(chan struct{}, 1), done: make(chan error, 1)}
	probe := core.AppFunc(func(ctx context.Context, _ *core.Scope, inbox core.Inbox, _ core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			if _, ok := ev.(hubmqtt.Disconnect); ok {
				return nil
			}
			select {
			case h.ready <- struct{}{}:
			default:
			}
		}
	})
	h.rt = opts.Runtime // a test may set InboxSize or Policy
	if h.rt == nil {
		h.rt = &core.Runtime{}
	}
	h.rt.App = append(hubmqtt.TopicRouter{hubmqtt.Topic(readyTopic, probe)}, routes...)
	if b.Name == "" {
		b.Name = "main"
	}
	if b.URL == "" {
		b.URL = m.URL()
	}
	b.Subscriptions = append(b.Subscriptions, Subscription{Filter: readyTopic})
	opts.Brokers = []BrokerConfig{b}
	opts.Runtime = h.rt
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.a = a
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(h.stop)
	h.waitReady(m)
	return h
}

// waitReady publishes to the probe topic until the adapter's consumer sees it.
func (h *hub) waitReady(m *mosquitto) {
	h.t.Helper()
	c := client(h.t, m, "")
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		c.Publish(readyTopic, 0, false, "ping")
		select {
		case <-h.ready:
			return
		case <-tick.C:
		case <-deadline:
			h.t.Fatal("adapter never subscribed")
		}
	}
}

// stop cancels Run and waits for it to return.
func (h *hub) stop() {
	h.once.Do(func() {
		h.cancel()
		select {
		case err := <-h.done:
			if err != nil {
				h.t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			h.t.Error("Run did not return after cancel")
		}
	})
}

// client is a paho client of the test's own, connected; clientID "" gets a
// random one and a clean session.
func client(t *testing.T, m *mosquitto, clientID string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(m.URL()).SetClientID(clientID).
		SetCleanSession(clientID == "").SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetMaxReconnectInterval(time.Second).
		SetOrderMatters(true)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("test client connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// mosquittoPub publishes each line of lines as one message with mosquitto_pub.
func mosquittoPub(t *testing.T, m *mosquitto, topic string, qos int, lines ...string) {
	t.Helper()
	cmd := exec.Command(servertest.Need(t, servertest.MosquittoPub), "-h", "127.0.0.1", "-p", strconv.Itoa(m.Port),
		"-q", strconv.Itoa(qos), "-t", topic, "-l")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
}

// patience bounds a wait (poll.Until) for what must happen through the broker.
const patience = 15 * time.Second

// next waits for the next recorded event.
func next(t *testing.T, ch <-chan got) got {
	t.Helper()
	select {
	case g := <-ch:
		return g
	case <-time.After(15 * time.Second):
		t.Fatal("no event within 15s")
		return got{}
	}
}

// nextMessage waits for the next mqtt.Message, skipping other events.
func nextMessage(t *testing.T, ch <-chan got) (got, hubmqtt.Message) {
	t.Helper()
	for {
		g := next(t, ch)
		if m, ok := g.ev.(hubmqtt.Message); ok {
			return g, m
		}
	}
}

func text(t *testing.T, m hubmqtt.Message) string {
	t.Helper()
	s, err := m.Text()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seq(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}
