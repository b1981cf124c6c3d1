package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestChatAcrossProcesses runs two hub processes on one distributed layer:
// a client of each, in the same room, sees what the other says.
func TestChatAcrossProcesses(t *testing.T) {
	for _, backend := range []struct {
		name  string
		start func(*testing.T) string
	}{{"redis", startRedis}, {"nats", startNATS}} {
		t.Run(backend.name, func(t *testing.T) {
			url := backend.start(t)
			a := startHub(t, layerChatConfig(t, t.TempDir(), url))
			b := startHub(t, layerChatConfig(t, t.TempDir(), url))

			ada, bob := dial(t, a.Addr, "lobby"), dial(t, b.Addr, "lobby")
			send(t, ada, "ada", "hello from process A")
			for _, c := range []*websocket.Conn{ada, bob} {
				expect(t, c, msg{Message: "hello from process A", User: "ada", Room: "lobby"})
			}
			send(t, bob, "bob", "hi from process B")
			for _, c := range []*websocket.Conn{ada, bob} {
				expect(t, c, msg{Message: "hi from process B", User: "bob", Room: "lobby"})
			}
			// Another room on A hears nothing of lobby: groups, not broadcast.
			cy := dial(t, a.Addr, "kitchen")
			send(t, cy, "cy", "anyone?")
			expect(t, cy, msg{Message: "anyone?", User: "cy", Room: "kitchen"})

			for _, h := range []*hub{a, b} {
				if code := h.Stop(); code != 0 {
					t.Errorf("exit code %d after SIGTERM", code)
				}
			}
		})
	}
}

// TestLayerPasswordNotPrinted runs the chat room on a Redis that wants a
// password given through the environment: the room works and neither the
// hub's output nor `hub routes` shows the password.
func TestLayerPasswordNotPrinted(t *testing.T) {
	const password = "e2e-redis-password-never-printed"
	url := startRedisAuth(t, password)
	t.Setenv("HUB_E2E_LAYER", url)
	dir := t.TempDir()
	h := startHub(t, layerChatConfig(t, dir, "{url: \"${HUB_E2E_LAYER}\", prefix: e2e, capacity: 50}"))
	ada := dial(t, h.Addr, "lobby")
	send(t, ada, "ada", "through a locked Redis")
	expect(t, ada, msg{Message: "through a locked Redis", User: "ada", Room: "lobby"})
	if code := h.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if strings.Contains(h.Logs(), password) || !strings.Contains(h.Logs(), "layer=redis://[redacted]@127.0.0.1") {
		t.Errorf("hub log shows the password, or no redacted layer URL:\n%s", h.Logs())
	}

	// A wrong password: the hub refuses to start, and says so without it.
	t.Setenv("HUB_E2E_LAYER", strings.Replace(url, password, "wrong-password-never-printed", 1))
	_, stderr, code := runHub(t, dir, "run", "--config", filepath.Join(dir, "hub.yaml"))
	if code != 1 || strings.Contains(stderr, "wrong-password-never-printed") || !strings.Contains(stderr, "server: layer:") {
		t.Errorf("exit code %d, stderr:\n%s", code, stderr)
	}
}
