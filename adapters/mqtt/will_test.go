package mqtt

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/internal/poll"
)

// proxy forwards TCP connections to a broker and can cut them all at once,
// which is how a broker sees a hub that crashed or lost its network.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	p.wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(out, in); out.Close() })
			p.wg.Go(func() { io.Copy(in, out); in.Close() })
		}
	})
	t.Cleanup(func() { ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *proxy) URL() string { return "tcp://" + p.ln.Addr().String() }

// cut drops every connection without an MQTT DISCONNECT.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestLastWill(t *testing.T) {
	m := startMosquitto(t)
	px := startProxy(t, m.Addr())
	wills := make(chan string, 4)
	watcher := client(t, m, "")
	if tok := watcher.Subscribe("hub/status", 1, func(_ paho.Client, msg paho.Message) {
		wills <- string(msg.Payload())
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	b := BrokerConfig{URL: px.URL(), ClientID: "hub-will", MaxReconnectInterval: 500 * time.Millisecond,
		Will: &Will{Topic: "hub/status", Payload: []byte("offline"), QoS: 1}}
	h := startHub(t, m, b, Options{})

	px.cut()
	select {
	case w := <-wills:
		if w != "offline" {
			t.Fatalf("will %q", w)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no last will after the connection dropped")
	}
	h.waitReady(m) // reconnected through the proxy
	h.stop()       // a clean goodbye: no will
	if tok := watcher.Publish("hub/status", 1, false, "marker"); !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("marker not acknowledged")
	}
	if w := <-wills; w != "marker" {
		t.Fatalf("after a clean stop got %q; want no will", w)
	}
}

// TestShutdownDrainsQueue: what the adapter acknowledged reaches the
// consumer before its Disconnect, even if the consumer is busy when the hub
// begins to stop.
func TestShutdownDrainsQueue(t *testing.T) {
	m := startMosquitto(t)
	events := make(chan got, 16)
	busy, release := make(chan struct{}), make(chan struct{})
	app := core.AppFunc(func(ctx context.Context, s *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		if _, err := inbox.Next(ctx); err != nil {
			return err
		}
		close(busy)
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		return recorder(events).Serve(ctx, s, inbox, send)
	})
	h := startHub(t, m, BrokerConfig{ClientID: "hub-drain", Subscriptions: []Subscription{{Filter: "drain/#", QoS: 1}}},
		Options{Runtime: &core.Runtime{InboxSize: 1}}, hubmqtt.Topic("drain/#", app))
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // runs before the hub stops
	mosquittoPub(t, m, "drain/x", 1, seq(0, 5)...)
	<-busy
	c := h.a.conns[0]
	poll.Until(t, patience, "1 message in the inbox, 1 on its way and 3 in the queue", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.topics["drain/x"].queue) == 3
	})
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	<-c.stopping
	once.Do(func() { close(release) })
	for i := 1; i <= 5; i++ {
		if _, msg := nextMessage(t, events); text(t, msg) != strconv.Itoa(i) {
			t.Fatalf("message %d: %q", i, msg.Payload)
		}
	}
	if g := next(t, events); g.ev != (hubmqtt.Disconnect{Reason: "shutdown"}) {
		t.Fatalf("last event %#v", g.ev)
	}
	<-stopped
}
