package e2e

import (
	"testing"

	"github.com/gorilla/websocket"
)

// layerChatConfig is the chat room on a free port with its store in dir
// and the given channel layer.
func layerChatConfig(t *testing.T, dir, layer string) string {
	return writeConfig(t, dir, `
listen: 127.0.0.1:0
store: ./hub.db
layer: `+layer+`
routes:
  websocket:
    - path: /ws/chat/{room}/
      consumer: chatroom
`)
}

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
