package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/internal/syncbuf"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/server"
)

// rewrite writes yaml (after the lines newConfig starts with) over cfg's
// file and loads it again, as a reload does.
func rewrite(t *testing.T, cfg *config.Config, yaml string) *config.Config {
	t.Helper()
	return rewriteFile(t, cfg, "listen: 127.0.0.1:0\nstore: ./hub.db\n"+yaml)
}

// rewriteFile writes yaml over cfg's file and loads it again.
func rewriteFile(t *testing.T, cfg *config.Config, yaml string) *config.Config {
	t.Helper()
	if err := os.WriteFile(cfg.File(), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	next, err := config.Load(cfg.File())
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// room is a client of the chat room at path.
func room(t *testing.T, srv *server.Server, path string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr()+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip says text in the room and expects to hear it back.
func roundTrip(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	if err := c.WriteJSON(map[string]string{"message": text, "user": "ada"}); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got map[string]string
	if err := c.ReadJSON(&got); err != nil || got["message"] != text {
		t.Fatalf("room echoed %v, %v; want %q", got, err, text)
	}
}

// refused checks that nothing serves a socket at path.
func refused(t *testing.T, srv *server.Server, path string) {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr()+path, nil)
	if err == nil {
		c.Close()
		t.Fatalf("a socket at %s was accepted", path)
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", path, err)
	}
}

const lobbyRoute = "routes:\n  websocket:\n    - {path: \"/ws/chat/{room}/\", consumer: chatroom}\n"

// TestReloadRoutes adds a route, then removes one, under a connected
// client: the new route serves at once, the client stays connected and
// keeps chatting, and a socket on a removed route keeps its consumer.
func TestReloadRoutes(t *testing.T) {
	cfg := newConfig(t, lobbyRoute)
	srv, _ := start(t, cfg)
	lobby := room(t, srv, "/ws/chat/lobby/")
	roundTrip(t, lobby, "before")
	refused(t, srv, "/ws/other/lobby/")

	if err := srv.Reload(rewrite(t, cfg, lobbyRoute+"    - {path: \"/ws/other/{room}/\", consumer: chatroom}\n")); err != nil {
		t.Fatal(err)
	}
	other := room(t, srv, "/ws/other/hall/")
	roundTrip(t, other, "on the new route")
	roundTrip(t, lobby, "after the reload")

	if err := srv.Reload(rewrite(t, cfg, "routes:\n  websocket:\n    - {path: \"/ws/other/{room}/\", consumer: chatroom}\n")); err != nil {
		t.Fatal(err)
	}
	refused(t, srv, "/ws/chat/lobby/")
	roundTrip(t, lobby, "on a removed route") // its scope keeps running until it ends
	roundTrip(t, room(t, srv, "/ws/other/yard/"), "still routed")
}

// TestReloadBrokenConfigKeepsOld checks that a reload that cannot be built
// returns its error at its line and leaves the routes as they were.
func TestReloadBrokenConfigKeepsOld(t *testing.T) {
	cfg := newConfig(t, lobbyRoute)
	srv, _ := start(t, cfg)
	lobby := room(t, srv, "/ws/chat/lobby/")
	tests := []struct{ name, yaml, want string }{
		{"options refused", lobbyRoute + "    - {path: /ws/x/, consumer: chatroom, options: {histroy: 3}}\n",
			"hub.yaml:6: routes.websocket[1].consumer: plugins: chatroom:"},
		{"bot without token", "bots:\n  - {name: nobody, platform: telegram}\n" + lobbyRoute + "  telegram:\n    - {consumer: echo}\n",
			"hub.yaml:4: bots[0].token: no token"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := srv.Reload(rewrite(t, cfg, tt.yaml))
			var ce *config.Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Reload = %v, want a config.Error containing %q", err, tt.want)
			}
			refused(t, srv, "/ws/x/")
			roundTrip(t, lobby, "still here")
			roundTrip(t, room(t, srv, fmt.Sprintf("/ws/chat/r%d/", i)), "still routed")
		})
	}
}

// TestReloadPlugins checks a reload's effect on plugins: an unchanged
// route keeps its consumer and its service running, a route whose options
// changed gets a new one, and a consumer no route uses is stopped and
// closed.
func TestReloadPlugins(t *testing.T) {
	id := t.Name()
	route := func(path, n string) string {
		return "    - {path: " + path + ", consumer: lifecycle, options: {id: " + id + n + "}}\n"
	}
	cfg := newConfig(t, "routes:\n  websocket:\n"+route("/ws/kept/", "kept")+route("/ws/changed/", "old")+route("/ws/dropped/", "dropped"))
	srv, _ := start(t, cfg)
	kept, changed, dropped := lifecycleOf(t, id+"kept"), lifecycleOf(t, id+"old"), lifecycleOf(t, id+"dropped")
	for _, l := range []*lifecycle{kept, changed, dropped} {
		wait(t, l.started, "a service to start")
	}

	lifecycles.Delete(id + "kept") // a rebuild of the kept route would store it again
	if err := srv.Reload(rewrite(t, cfg, "routes:\n  websocket:\n"+route("/ws/kept/", "kept")+route("/ws/changed/", "new"))); err != nil {
		t.Fatal(err)
	}
	if _, rebuilt := lifecycles.Load(id + "kept"); rebuilt {
		t.Error("the unchanged route's consumer was built again")
	}
	wait(t, lifecycleOf(t, id+"new").started, "the changed route's new service")
	for name, l := range map[string]*lifecycle{"changed": changed, "dropped": dropped} {
		if afterRun := wait(t, l.closed, "the "+name+" route's consumer to close"); !afterRun {
			t.Errorf("the %s route's consumer was closed before its service returned", name)
		}
	}
	select {
	case <-kept.ended:
		t.Error("the unchanged route's service was stopped")
	case <-kept.closed:
		t.Error("the unchanged route's consumer was closed")
	default:
	}
}

// TestReloadNeedsRestart checks that a setting a running hub cannot change
// is reported at its line and keeps its running value, while the rest of
// the config applies.
func TestReloadNeedsRestart(t *testing.T) {
	var logs syncbuf.Buffer
	cfg := newConfig(t, lobbyRoute)
	srv, _ := startLogged(t, cfg, slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), nil)))
	addr := srv.Addr()
	next := rewriteFile(t, cfg, "listen: 127.0.0.1:1\nstore: ./hub.db\ninbox: {size: 3}\n"+lobbyRoute+"    - {path: \"/ws/other/{room}/\", consumer: chatroom}\n")
	if err := srv.Reload(next); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, room(t, srv, "/ws/other/hall/"), "applied")
	if srv.Addr() != addr {
		t.Errorf("listening on %s after the reload, want %s", srv.Addr(), addr)
	}
	got := logs.String()
	for _, want := range []string{"hub.yaml:1: listen: changed", "hub.yaml:3: inbox: changed", "needs a restart",
		`needs_restart="listen, inbox"`, `routes_added="websocket /ws/other/{room}/ → chatroom"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}

// TestReloadBeforeRun checks that a reload between New and Run applies to
// what Run starts, and that one after Close is refused.
func TestReloadBeforeRun(t *testing.T) {
	cfg := newConfig(t, lobbyRoute)
	srv, err := server.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(rewrite(t, cfg, "routes:\n  websocket:\n    - {path: \"/ws/other/{room}/\", consumer: chatroom}\n")); err != nil {
		t.Fatal(err)
	}
	stop := run(t, srv)
	roundTrip(t, room(t, srv, "/ws/other/lobby/"), "reloaded before Run")
	refused(t, srv, "/ws/chat/lobby/")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(cfg); err == nil {
		t.Fatal("Reload of a closed hub succeeded")
	}
}

// tagged is a chat consumer that answers "<tag>: <text>" and reports every
// conversation it sees end on disconnects.
func init() {
	plugins.RegisterFactory("tagged", func(opts plugins.Options) (core.Application, error) {
		var o struct {
			Tag string `json:"tag"`
		}
		if err := opts.Decode(&o); err != nil {
			return nil, err
		}
		return consumers.NewChat(func() consumers.ChatHandler { return tagged(o.Tag) }), nil
	})
}

type tagged string

// disconnects gets "<bot>: <reason>" for each conversation that ends.
var disconnects = make(chan string, 16)

func (tg tagged) Receive(c *consumers.ChatConn, m *chat.Message) error {
	return c.Send(string(tg) + ": " + m.Text)
}

func (tg tagged) Disconnect(c *consumers.ChatConn, d chat.Disconnect) error {
	disconnects <- c.Scope.Bot + ": " + d.Reason
	return nil
}

// TestReloadBots adds a bot, changes the route of another, removes it,
// then changes the settings of the first: the added bot starts, the
// unchanged one keeps running (its open conversation too) with its new
// route for new conversations, the removed one stops, its conversations
// ending with a disconnect, and the changed one restarts.
func TestReloadBots(t *testing.T) {
	fake := telegramtest.New(t)
	alpha := fake.AddBot("1001:alpha-secret", "alpha_bot")
	beta := fake.AddBot("1002:beta-secret", "beta_bot")
	bots := func(names ...string) string {
		y := "telegram: {poll_timeout: 1s}\nbots:\n"
		for _, n := range names {
			tok := map[string]string{"alpha": "1001:alpha-secret", "beta": "1002:beta-secret"}[n]
			y += "  - {name: " + n + ", platform: telegram, token: \"" + tok + "\", api_url: \"" + fake.URL() + "\"}\n"
		}
		return y
	}
	route := func(bot, tag string) string {
		return "    - {bot: " + bot + ", consumer: tagged, options: {tag: " + tag + "}}\n"
	}
	for len(disconnects) > 0 { // left by an earlier run of the test
		<-disconnects
	}
	var logs syncbuf.Buffer
	cfg := newConfig(t, bots("alpha")+"routes:\n  telegram:\n"+route("alpha", "a1"))
	srv, _ := startLogged(t, cfg, slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), nil)))

	alpha.PushMessage(1, "ada", "hi")
	if got := alpha.WaitSent(t, 1, 1)[0].Text; got != "a1: hi" {
		t.Fatalf("alpha answered %q", got)
	}

	// beta added; alpha's route changed, its bot not.
	if err := srv.Reload(rewrite(t, cfg, bots("alpha", "beta")+"routes:\n  telegram:\n"+route("alpha", "a2")+route("beta", "b"))); err != nil {
		t.Fatal(err)
	}
	beta.PushMessage(2, "bob", "hello")
	if got := beta.WaitSent(t, 2, 1)[0].Text; got != "b: hello" {
		t.Fatalf("beta answered %q", got)
	}
	alpha.PushMessage(1, "ada", "still there")
	if got := alpha.WaitSent(t, 1, 2)[1].Text; got != "a1: still there" {
		t.Errorf("alpha's open conversation answered %q, want its old consumer", got)
	}
	alpha.PushMessage(3, "cy", "new chat")
	if got := alpha.WaitSent(t, 3, 1)[0].Text; got != "a2: new chat" {
		t.Errorf("alpha's new conversation answered %q, want the new route", got)
	}
	if n := len(alpha.Requests("getMe")); n != 1 {
		t.Errorf("alpha called getMe %d times: it was restarted", n)
	}
	select {
	case d := <-disconnects:
		t.Fatalf("a conversation ended on a reload that kept its bot: %s", d)
	default:
	}

	// alpha removed: its two conversations end.
	if err := srv.Reload(rewrite(t, cfg, bots("beta")+"routes:\n  telegram:\n"+route("beta", "b"))); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if d := wait(t, disconnects, "alpha's conversations to end"); d != "alpha: shutdown" {
			t.Errorf("disconnect %q, want alpha: shutdown", d)
		}
	}
	polls := len(alpha.Requests("getUpdates"))
	beta.PushMessage(2, "bob", "after")
	beta.WaitSent(t, 2, 2)
	if n := len(alpha.Requests("getUpdates")); n != polls {
		t.Errorf("alpha still polls after its removal (%d getUpdates, then %d)", polls, n)
	}

	// beta's settings changed: it restarts, its conversation ends.
	changed := strings.Replace(bots("beta"), "poll_timeout: 1s", "poll_timeout: 2s", 1)
	if err := srv.Reload(rewrite(t, cfg, changed+"routes:\n  telegram:\n"+route("beta", "b"))); err != nil {
		t.Fatal(err)
	}
	if d := wait(t, disconnects, "beta's conversation to end"); d != "beta: shutdown" {
		t.Errorf("disconnect %q, want beta: shutdown", d)
	}
	beta.PushMessage(2, "bob", "restarted")
	if got := beta.WaitSent(t, 2, 3)[2].Text; got != "b: restarted" {
		t.Errorf("beta after its restart answered %q", got)
	}
	if n := len(beta.Requests("getMe")); n != 2 {
		t.Errorf("beta called getMe %d times, want 2 (a restart)", n)
	}
	got := logs.String()
	for _, want := range []string{`started=telegram:beta`, `stopped=telegram:alpha`, "plugins_built=2 plugins_dropped=1", "restarted=telegram:beta"} {
		if !strings.Contains(got, want) {
			t.Errorf("reload log lacks %q", want)
		}
	}
	if strings.Contains(got, "alpha-secret") || strings.Contains(got, "beta-secret") {
		t.Error("a bot token is in the log")
	}
}

// TestReloadConcurrentRequests reloads while clients connect: every socket
// is served by the routes before or after, never refused half-way.
func TestReloadConcurrentRequests(t *testing.T) {
	cfg := newConfig(t, lobbyRoute)
	srv, _ := start(t, cfg)
	next := rewrite(t, cfg, lobbyRoute+"    - {path: \"/ws/other/{room}/\", consumer: chatroom}\n")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr()+"/ws/chat/r/", nil)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			c.Close()
		})
	}
	if err := srv.Reload(next); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if code, _ := get(t, "http://"+srv.Addr()+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
}

// mqttecho publishes every message it gets back under out/.
func init() {
	plugins.Register("mqttecho", core.AppFunc(func(ctx context.Context, _ *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			switch ev := ev.(type) {
			case hubmqtt.Message:
				if err := send(ctx, hubmqtt.Publish{Topic: "out/" + ev.Topic, Payload: ev.Payload, QoS: 1}); err != nil {
					return err
				}
			case hubmqtt.Disconnect:
				return nil
			}
		}
	}))
}

// TestReloadMQTT adds an MQTT route: the broker connection restarts with
// the new subscription and serves both topics; a reload that leaves the
// MQTT config alone leaves the connection alone.
func TestReloadMQTT(t *testing.T) {
	port := closedPort(t)
	head := "mqtt_broker: 127.0.0.1:" + port + "\nroutes:\n  mqtt:\n    - {broker: local, topic: \"a/#\", consumer: mqttecho}\n"
	var logs syncbuf.Buffer
	cfg := newConfig(t, head)
	srv, _ := startLogged(t, cfg, slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), nil)))

	client := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://127.0.0.1:" + port).SetClientID("reload-test"))
	if tok := client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to the embedded broker: %v", tok.Error())
	}
	t.Cleanup(func() { client.Disconnect(0) })
	out := make(chan string, 16)
	client.Subscribe("out/#", 1, func(_ paho.Client, m paho.Message) { out <- m.Topic() + " " + string(m.Payload()) })
	// echoed publishes on topic until its echo comes back (the hub's
	// connection subscribes at its own pace); late echoes of earlier
	// topics are skipped.
	echoed := func(topic string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			client.Publish(topic, 1, false, "ping").WaitTimeout(time.Second)
			retry := time.After(200 * time.Millisecond)
			for waiting := true; waiting; {
				select {
				case got := <-out:
					if got == "out/"+topic+" ping" {
						return
					}
				case <-retry:
					waiting = false
				}
			}
		}
		t.Fatalf("no echo of %s", topic)
	}
	echoed("a/1")

	if err := srv.Reload(rewrite(t, cfg, head+"    - {broker: local, topic: \"b/#\", consumer: mqttecho}\n")); err != nil {
		t.Fatal(err)
	}
	echoed("b/1")
	echoed("a/2")
	if !strings.Contains(logs.String(), "restarted=mqtt:local") {
		t.Errorf("the reload log does not say the connection restarted:\n%s", logs.String())
	}

	if err := srv.Reload(rewrite(t, cfg, head+"    - {broker: local, topic: \"b/#\", consumer: mqttecho}\n  websocket:\n    - {path: /ws/x/, consumer: chatroom}\n")); err != nil {
		t.Fatal(err)
	}
	last := logs.String()[strings.LastIndex(logs.String(), "msg=reloaded"):]
	if strings.Contains(last, "mqtt:local") {
		t.Errorf("a reload without MQTT changes touched the connection: %s", last)
	}
	echoed("b/2")
}

// TestReloadRestartWaitsForCallsInFlight restarts a bot (its settings
// changed) while its adapter's outbox has a call on the wire: the old
// adapter waits for the call's answer, and records it, before the new one
// starts and loads the bot's pending calls, so the call is made once.
func TestReloadRestartWaitsForCallsInFlight(t *testing.T) {
	fake := telegramtest.New(t)
	beta := fake.AddBot("1002:beta-secret", "beta_bot")
	// The bot reaches the fake through a proxy that can hold a sendMessage
	// on the wire, and notes the order of the calls that matter.
	target, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	forward.ErrorLog = log.New(io.Discard, "", 0) // long polls cut short at the restart
	var (
		mu      sync.Mutex
		order   []string
		hold    = make(chan struct{}, 1) // a token: hold the next sendMessage
		onWire  = make(chan struct{}, 1)
		release = make(chan struct{})
	)
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, s)
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/getMe"):
			note("getMe")
		case strings.HasSuffix(r.URL.Path, "/sendMessage"):
			select {
			case <-hold:
				onWire <- struct{}{}
				<-release
			default:
			}
			forward.ServeHTTP(w, r)
			note("sendMessage answered")
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // before the proxy closes, should the test fail while it holds
	bots := func(pollTimeout string) string {
		return "telegram: {poll_timeout: " + pollTimeout + "}\nbots:\n" +
			"  - {name: beta, platform: telegram, token: \"1002:beta-secret\", api_url: \"" + proxy.URL + "\"}\n" +
			"routes:\n  telegram:\n    - {bot: beta, consumer: tagged, options: {tag: b}}\n"
	}
	cfg := newConfig(t, bots("1s"))
	srv, _ := start(t, cfg)
	beta.WaitRequests(t, "getUpdates", 1)

	hold <- struct{}{}
	beta.PushMessage(2, "bob", "hello")
	select {
	case <-onWire:
	case <-time.After(10 * time.Second):
		t.Fatal("the answer never went out")
	}
	reloaded := make(chan error, 1)
	go func() { reloaded <- srv.Reload(rewrite(t, cfg, bots("2s"))) }()
	select {
	case err := <-reloaded:
		t.Fatalf("the reload returned (%v) while the old adapter had a call on the wire", err)
	case <-time.After(300 * time.Millisecond): // it waits: the call is answered first
	}
	free()
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	beta.PushMessage(2, "bob", "after")
	sent := beta.WaitSent(t, 2, 2)
	if len(sent) != 2 || sent[0].Text != "b: hello" || sent[1].Text != "b: after" {
		t.Fatalf("sent %+v, want each answer once", sent)
	}
	if n := len(beta.Requests("sendMessage")); n != 2 {
		t.Errorf("%d sendMessage calls, want 2", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"getMe", "sendMessage answered", "getMe"}; len(order) < 3 || !slices.Equal(order[:3], want) {
		t.Errorf("calls %q, want %q: the new adapter starts once the old one's call is answered", order, want)
	}
	for len(disconnects) > 0 { // beta's conversation ended at the restart
		<-disconnects
	}
}
