package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/hubhq/hub/internal/poll"
)

// reloadConfig is the chat room, with more routes after it.
func reloadConfig(t *testing.T, dir, moreRoutes string) string {
	return writeConfig(t, dir, `
listen: 127.0.0.1:0
store: ./hub.db
log: {level: info, format: text}
routes:
  websocket:
    - path: /ws/chat/{room}/
      consumer: chatroom
`+moreRoutes)
}

// dialPath connects a client to the socket at path.
func dialPath(t *testing.T, addr, path string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// chat sends text from user in room and expects it back on c.
func chat(t *testing.T, c *websocket.Conn, room, user, text string) {
	t.Helper()
	send(t, c, user, text)
	expect(t, c, msg{Message: text, User: user, Room: room})
}

// waitLog waits until the hub's log, from byte from on, has a line with
// every one of wants, and returns that line.
func (h *hub) waitLog(from int, wants ...string) string {
	h.t.Helper()
	var found string
	if !poll.Wait(readTimeout, func() bool {
		for line := range strings.Lines(h.Logs()[from:]) {
			if containsAll(line, wants) {
				found = line
				return true
			}
		}
		return false
	}) {
		h.t.Fatalf("no log line with %q:\n%s", wants, h.Logs())
	}
	return found
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestReload changes the config of a running hub under a connected client.
// A route added with `hub reload` serves at once while the client stays
// connected and keeps chatting; broken configs sent with SIGHUP are logged
// at their line and change nothing.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := reloadConfig(t, dir, "")
	h := startHub(t, path)
	ada := dial(t, h.Addr, "lobby")
	chat(t, ada, "lobby", "ada", "before the reload")

	reloadConfig(t, dir, "    - path: /ws/annex/{room}/\n      consumer: chatroom\n")
	if stdout, stderr, code := runHub(t, dir, "reload", "--config", path); code != 0 || !strings.Contains(stdout, "is reloading") {
		t.Fatalf("hub reload: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	h.waitLog(0, "msg=reloaded", `routes_added="websocket /ws/annex/{room}/ → chatroom"`)
	bob := dialPath(t, h.Addr, "/ws/annex/hall/")
	chat(t, bob, "hall", "bob", "on the new route")
	chat(t, ada, "lobby", "ada", "after the reload") // the same socket, still served

	broken := []struct{ name, routes, at string }{
		{"options the plugin refuses", "    - path: /ws/x/{room}/\n      consumer: chatroom\n      options: {histroy: 3}\n",
			"hub.yaml:12: routes.websocket[2].consumer: plugins: chatroom"},
		{"unknown key", "    - path: /ws/x/{room}/\n      consmer: chatroom\n", "hub.yaml:12: routes.websocket[2].consmer: unknown key"},
		{"yaml syntax", "    - path: /ws/x/{room}/\n      consumer: chatroom: x\n", "hub.yaml:12: mapping values are not allowed"},
	}
	for i, tt := range broken {
		reloadConfig(t, dir, "    - path: /ws/annex/{room}/\n      consumer: chatroom\n"+tt.routes)
		from := len(h.Logs())
		if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		line := h.waitLog(from, "reload failed; the running config stays")
		if !strings.Contains(line, path+":") || !strings.Contains(line, tt.at) {
			t.Errorf("%s: the reload error does not point at %s:\n%s", tt.name, tt.at, line)
		}
		chat(t, ada, "lobby", "ada", "still here "+tt.name)
		chat(t, bob, "hall", "bob", "still here "+tt.name)
		room := fmt.Sprintf("room%d", i)
		chat(t, dialPath(t, h.Addr, "/ws/annex/"+room+"/"), room, "cy", "a new socket")
	}
	// `hub reload` checks the file itself and sends nothing when it is broken.
	if _, stderr, code := runHub(t, dir, "reload", "--config", path); code != 2 || !strings.Contains(stderr, path+":12:") {
		t.Errorf("hub reload of a broken config: exit %d, stderr:\n%s", code, stderr)
	}

	if code := h.Stop(); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d\n%s", code, h.Logs())
	}
	if code := expectClose(t, ada); code != websocket.CloseGoingAway {
		t.Errorf("ada's socket closed with %d at shutdown, want 1001", code)
	}
}
