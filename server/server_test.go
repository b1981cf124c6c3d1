package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/internal/syncbuf"
	_ "github.com/hubhq/hub/plugins/chatroom"
	"github.com/hubhq/hub/server"
	"github.com/hubhq/hub/store"
)

// newConfig parses yaml (over the defaults) with the store in a temp dir.
func newConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:0\nstore: ./hub.db\n"+yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// start runs a server until the test ends and returns it and a func that
// stops it and returns Run's result.
func start(t *testing.T, cfg *config.Config) (*server.Server, func() error) {
	t.Helper()
	return startLogged(t, cfg, testLogger(t))
}

// startLogged is start with the server logging to logger.
func startLogged(t *testing.T, cfg *config.Config, logger *slog.Logger) (*server.Server, func() error) {
	t.Helper()
	srv, err := server.New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	return srv, run(t, srv)
}

// run runs srv until the test ends and returns a func that stops it and
// returns Run's result.
func run(t *testing.T, srv *server.Server) func() error {
	t.Helper()
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Error("Run did not return after cancel")
			return nil
		}
	})
	t.Cleanup(func() { stop() })
	return stop
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeAndShutdown(t *testing.T) {
	cfg := newConfig(t, "")
	srv, stop := start(t, cfg)
	base := "http://" + srv.Addr()

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, base+"/"); code != 200 || !strings.Contains(body, `id="log"`) {
		t.Errorf("chat page = %d, %d bytes", code, len(body))
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr()+"/ws/chat/lobby/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]string{"message": "hi", "user": "ada"}); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got map[string]string
	if err := ws.ReadJSON(&got); err != nil || got["message"] != "hi" {
		t.Fatalf("echo through the room = %v, %v", got, err)
	}

	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`hub_scopes_opened_total{protocol="websocket"} 1`,
		`hub_scopes_live{protocol="websocket"} 1`,
		"hub_websocket_connections 1",
		"hub_store_writes_total",
		"hub_layer_sent_total 1",
		`hub_layer_info{backend="memory"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ce *websocket.CloseError
	if _, _, err := ws.ReadMessage(); !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("socket after shutdown: %v, want close 1001", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestWebSocketOriginChecked(t *testing.T) {
	tests := []struct {
		name, origins, origin string
		ok                    bool
	}{
		{"no origin header", "", "", true},
		{"own host", "", "http://HOST", true},
		{"other site, default", "", "https://evil.example", false},
		{"other site, allowed", "allowed_origins: [evil.example]\n", "https://evil.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := start(t, newConfig(t, tt.origins))
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", strings.Replace(tt.origin, "HOST", srv.Addr(), 1))
			}
			ws, resp, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr()+"/ws/chat/lobby/", h)
			if ws != nil {
				ws.Close()
			}
			if (err == nil) != tt.ok {
				status := 0
				if resp != nil {
					status = resp.StatusCode
				}
				t.Errorf("dial: err %v (HTTP %d), want ok=%v", err, status, tt.ok)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"plugin refuses options", "routes:\n  websocket:\n    - path: /ws/{room}/\n      consumer: chatroom\n      options: {histroy: 3}\n",
			"hub.yaml:6: routes.websocket[0].consumer: plugins: chatroom:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newConfig(t, tt.yaml)
			_, err := server.New(cfg, testLogger(t))
			var ce *config.Error
			if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want a config.Error containing %q", err, tt.want)
			}
			if _, err := os.Stat(cfg.Store); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed New left the store file behind (stat: %v)", err)
			}
		})
	}
}

// TestLayerUnreachable checks that a hub whose distributed layer is down
// fails at once, leaves no store file, and does not print the password of
// the layer URL.
func TestLayerUnreachable(t *testing.T) {
	port := closedPort(t)
	for _, url := range []string{
		"redis://:secretpw@127.0.0.1:" + port + "/0",
		"nats://hub:secretpw@127.0.0.1:" + port,
	} {
		t.Run(url[:5], func(t *testing.T) {
			cfg := newConfig(t, "layer: "+url+"\n")
			_, err := server.New(cfg, testLogger(t))
			if err == nil {
				t.Fatal("New succeeded without a layer server")
			}
			if strings.Contains(err.Error(), "secretpw") || !strings.Contains(err.Error(), "server: layer:") {
				t.Errorf("New = %v", err)
			}
			if _, err := os.Stat(cfg.Store); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed New left the store file behind (stat: %v)", err)
			}
		})
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func TestCloseWithoutRun(t *testing.T) {
	srv, err := server.New(newConfig(t, ""), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestRoutes(t *testing.T) {
	cfg := newConfig(t, `
mqtt:
  - {name: home, url: "tcp://127.0.0.1:1883"}
bots:
  - {name: support, platform: telegram, token: x}
routes:
  websocket:
    - {path: "/ws/chat/{room}/", consumer: chatroom}
  http:
    - {path: /, handler: chatroom}
  mqtt:
    - {broker: home, topic: sensors/#, consumer: chatroom}
  telegram:
    - {bot: support, consumer: chatroom}
    - {consumer: chatroom}
  channel:
    - {channel: thumbnails, consumer: chatroom}
`)
	got := server.Routes(cfg)
	want := []server.RouteInfo{
		{Protocol: "websocket", Match: "/ws/chat/{room}/", Target: "chatroom"},
		{Protocol: "http", Match: "/", Target: "chatroom (page)"},
		{Protocol: "http", Match: "/healthz", Target: "(hub) health check"},
		{Protocol: "http", Match: "/metrics", Target: "(hub) prometheus metrics"},
		{Protocol: "telegram", Match: "*", Via: "support", Target: "chatroom"},
		{Protocol: "telegram", Match: "*", Via: "(every bot)", Target: "chatroom"},
		{Protocol: "mqtt", Match: "sensors/#", Via: "home", Target: "chatroom"},
		{Protocol: "channel", Match: "thumbnails", Via: "hub worker", Target: "chatroom"},
	}
	if len(got) != len(want) {
		t.Fatalf("Routes = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Routes[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestReplayLogged: calls the last run left in flight are settled as the
// hub starts, and the hub says so in its log and its metrics.
func TestReplayLogged(t *testing.T) {
	cfg := newConfig(t, "")
	db, err := store.Open(cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	id, err := db.OutboxAdd(t.Context(), store.OutboxEntry{Platform: "telegram", Bot: "b", Scope: "telegram:b:1", Kind: "chat.send", Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	// The platform answered; the hub died before the outbox recorded it.
	if err := db.OutboxAnswered(id, "7"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var logs syncbuf.Buffer
	srv, stop := startLogged(t, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	defer stop() //nolint:errcheck
	if got := logs.String(); !strings.Contains(got, `msg="calls in flight at the last stop settled: none lost, none repeated" answered=1 in_doubt=0`) {
		t.Errorf("no replay line in the log:\n%s", got)
	}
	if _, body := get(t, "http://"+srv.Addr()+"/metrics"); !strings.Contains(body, `hub_outbox_replayed_total{outcome="answered"} 1`) {
		t.Errorf("metrics lack the replay:\n%s", body)
	}
}
