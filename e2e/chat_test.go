package e2e

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// msg is the chat room's wire format, both ways.
type msg struct {
	Message string `json:"message"`
	User    string `json:"user,omitempty"`
	Room    string `json:"room,omitempty"`
}

const readTimeout = 10 * time.Second

func dial(t *testing.T, addr, room string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/chat/"+room+"/", nil)
	if err != nil {
		t.Fatalf("dial room %s: %v", room, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c *websocket.Conn, user, text string) {
	t.Helper()
	if err := c.WriteJSON(msg{Message: text, User: user}); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
}

func expect(t *testing.T, c *websocket.Conn, want msg) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(readTimeout))
	var got msg
	if err := c.ReadJSON(&got); err != nil {
		t.Fatalf("waiting for %+v: %v", want, err)
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// expectClose reads until the server's close frame and returns its code.
func expectClose(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(stopTimeout))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("socket ended without a close frame: %v", err)
		}
		return ce.Code
	}
}

// TestChatRoom is the chat room's whole life: two clients talk, SIGTERM
// closes them with 1001 and exits 0, and a restarted hub on the same
// database shows a newcomer the history.
func TestChatRoom(t *testing.T) {
	dir := t.TempDir()
	cfg := chatConfig(t, dir)
	h := startHub(t, cfg)
	if resp, err := http.Get("http://" + h.Addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	ada, bob := dial(t, h.Addr, "lobby"), dial(t, h.Addr, "lobby")
	send(t, ada, "ada", "hello from ada")
	for _, c := range []*websocket.Conn{ada, bob} {
		expect(t, c, msg{Message: "hello from ada", User: "ada", Room: "lobby"})
	}
	send(t, bob, "bob", "hi ada")
	for _, c := range []*websocket.Conn{ada, bob} {
		expect(t, c, msg{Message: "hi ada", User: "bob", Room: "lobby"})
	}

	if code := h.Stop(); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0\n%s", code, h.Logs())
	}
	for name, c := range map[string]*websocket.Conn{"ada": ada, "bob": bob} {
		if code := expectClose(t, c); code != websocket.CloseGoingAway {
			t.Errorf("%s's socket closed with %d, want 1001 (going away)", name, code)
		}
	}

	h = startHub(t, cfg)
	cy := dial(t, h.Addr, "lobby")
	expect(t, cy, msg{Message: "hello from ada", User: "ada", Room: "lobby"})
	expect(t, cy, msg{Message: "hi ada", User: "bob", Room: "lobby"})
	if code := h.Stop(); code != 0 {
		t.Fatalf("exit code of the restarted hub = %d, want 0", code)
	}
}
