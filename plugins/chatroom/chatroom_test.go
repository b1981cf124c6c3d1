package chatroom_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/websocket"
	"github.com/hubhq/hub/hubtest"
	"github.com/hubhq/hub/plugins/chatroom"
)

// app mounts the consumer as the default config does.
func app() core.Application {
	return core.URLRouter{core.Path(chatroom.Route, chatroom.New(chatroom.Config{}))}
}

// newHub is a test hub whose memory layer the test can inspect.
func newHub(t *testing.T) (*hubtest.Hub, *layer.Memory) {
	mem := layer.NewMemory(layer.Options{})
	return hubtest.NewHub(t, hubtest.Layer(mem)), mem
}

// anyID in an expected frame stands for the history id a line gets when a
// member stores it: any id, as long as there is one.
const anyID = "<any id>"

// expect reads the next frame, which must be want, and returns it.
func expect(t *testing.T, c *hubtest.WebSocketCommunicator, want chatroom.Outbound) chatroom.Outbound {
	t.Helper()
	var got chatroom.Outbound
	c.ReceiveJSON(&got)
	match := want
	if want.ID == anyID && got.ID != "" {
		match.ID = got.ID
	}
	if got != match {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	return got
}

func TestTwoMembersSeeEachOther(t *testing.T) {
	hub, _ := newHub(t)
	ada, bob := hub.WebSocket(app(), "/ws/chat/lobby/"), hub.WebSocket(app(), "/ws/chat/lobby/")
	ada.Connect()
	bob.Connect()
	ada.SendJSON(chatroom.Inbound{Message: "hi bob", User: "ada"})
	for _, c := range []*hubtest.WebSocketCommunicator{ada, bob} {
		expect(t, c, chatroom.Outbound{ID: anyID, Message: "hi bob", User: "ada", Room: "lobby"})
	}
	bob.SendJSON(map[string]string{"message": "hello"}) // no user: Anonymous
	for _, c := range []*hubtest.WebSocketCommunicator{ada, bob} {
		expect(t, c, chatroom.Outbound{ID: anyID, Message: "hello", User: "Anonymous", Room: "lobby"})
	}
	// Another room hears nothing.
	eve := hub.WebSocket(app(), "/ws/chat/other/")
	eve.Connect()
	ada.SendJSON(chatroom.Inbound{Message: "psst"})
	expect(t, bob, chatroom.Outbound{ID: anyID, Message: "psst", User: "Anonymous", Room: "lobby"})
	eve.ExpectNothing()
}

func TestHistoryOnJoin(t *testing.T) {
	hub, _ := newHub(t)
	ada := hub.WebSocket(app(), "/ws/chat/lobby/")
	ada.Connect()
	for i := range 3 {
		ada.SendJSON(chatroom.Inbound{Message: fmt.Sprint("line ", i), User: "ada"})
		expect(t, ada, chatroom.Outbound{ID: anyID, Message: fmt.Sprint("line ", i), User: "ada", Room: "lobby"})
	}
	bob := hub.WebSocket(app(), "/ws/chat/lobby/")
	bob.Connect()
	for i := range 3 {
		expect(t, bob, chatroom.Outbound{ID: anyID, Message: fmt.Sprint("line ", i), User: "ada", Room: "lobby"})
	}
	bob.ExpectNothing()
}

func TestHistoryKeepsTheNewestAndSurvivesRestart(t *testing.T) {
	hub := hubtest.NewHub(t)
	ada := hub.WebSocket(app(), "/ws/chat/lobby/")
	ada.Connect()
	const sent = chatroom.DefaultHistory + 5
	for i := range sent {
		ada.SendJSON(chatroom.Inbound{Message: fmt.Sprint(i), User: "ada"})
		expect(t, ada, chatroom.Outbound{ID: anyID, Message: fmt.Sprint(i), User: "ada", Room: "lobby"})
	}
	hub.Restart() // closes and reopens the SQLite file; ada is disconnected
	ada.ExpectClose(websocket.CloseGoingAway)

	bob := hub.WebSocket(app(), "/ws/chat/lobby/")
	bob.Connect()
	for i := sent - chatroom.DefaultHistory; i < sent; i++ {
		expect(t, bob, chatroom.Outbound{ID: anyID, Message: fmt.Sprint(i), User: "ada", Room: "lobby"})
	}
	bob.ExpectNothing()
}

func TestInvalidRoomIsDenied(t *testing.T) {
	for _, room := range []string{"a%20b", "sp ace", "ünï", strings.Repeat("r", 95), "semi;colon"} {
		t.Run(room, func(t *testing.T) {
			c := hubtest.WebSocket(t, app(), "/ws/chat/"+room+"/")
			if code := c.ConnectDenied(); code != websocket.ClosePolicy {
				t.Fatalf("denied with %d", code)
			}
		})
	}
	c := hubtest.WebSocket(t, app(), "/ws/chat/"+strings.Repeat("r", 94)+"/")
	c.Connect() // the longest name whose group is still valid
}

func TestBadFrames(t *testing.T) {
	tests := []struct {
		name string
		send func(c *hubtest.WebSocketCommunicator)
		code int
	}{
		{"invalid JSON", func(c *hubtest.WebSocketCommunicator) { c.SendText("{not json") }, websocket.CloseInvalidData},
		{"message not a string", func(c *hubtest.WebSocketCommunicator) { c.SendText(`{"message": 5}`) }, websocket.CloseInvalidData},
		{"binary", func(c *hubtest.WebSocketCommunicator) { c.SendBytes([]byte(`{"message":"hi"}`)) }, websocket.CloseUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, mem := newHub(t)
			c := hub.WebSocket(app(), "/ws/chat/lobby/")
			c.Connect()
			tt.send(c)
			c.ExpectClose(tt.code)
			if err := c.Wait(); err != nil {
				t.Fatalf("scope ended with %v", err)
			}
			if _, groups := mem.Size(); groups != 0 {
				t.Fatalf("%d groups left", groups)
			}
		})
	}
}

func TestRefusedMessagesGetAnErrorFrame(t *testing.T) {
	tests := []struct {
		name string
		in   chatroom.Inbound
		want string
	}{
		{"too long", chatroom.Inbound{Message: strings.Repeat("x", chatroom.DefaultMaxMessage+1)}, "message too long: 4097 bytes (limit 4096)"},
		{"empty", chatroom.Inbound{Message: "  "}, "empty message"},
		{"long user", chatroom.Inbound{Message: "hi", User: strings.Repeat("u", chatroom.MaxUser+1)}, "user name too long: 65 bytes (limit 64)"},
	}
	hub, _ := newHub(t)
	c, other := hub.WebSocket(app(), "/ws/chat/lobby/"), hub.WebSocket(app(), "/ws/chat/lobby/")
	c.Connect()
	other.Connect()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.SendJSON(tt.in)
			var got map[string]string
			c.ReceiveJSON(&got)
			if got["error"] != tt.want {
				t.Fatalf("got %v, want error %q", got, tt.want)
			}
		})
	}
	other.ExpectNothing()
	// The socket stays open, and a message at the limit goes through.
	limit := strings.Repeat("x", chatroom.DefaultMaxMessage)
	c.SendJSON(chatroom.Inbound{Message: limit})
	expect(t, other, chatroom.Outbound{ID: anyID, Message: limit, User: "Anonymous", Room: "lobby"})
}

func TestGroupLeftAfterDisconnect(t *testing.T) {
	hub, mem := newHub(t)
	c := hub.WebSocket(app(), "/ws/chat/lobby/")
	c.Connect()
	if _, groups := mem.Size(); groups != 1 {
		t.Fatalf("%d groups while connected, want 1", groups)
	}
	c.Disconnect(websocket.CloseNormal)
	expectEmpty(t, mem)
}

// expectEmpty checks that a layer holds nothing for departed sockets: group
// memberships are left before the instance ends; its channel is freed as
// soon as the instance's layer reader notices.
func expectEmpty(t *testing.T, mem *layer.Memory) {
	t.Helper()
	if _, groups := mem.Size(); groups != 0 {
		t.Fatalf("%d groups left", groups)
	}
	hubtest.Eventually(t, "layer channels freed", func() bool { channels, _ := mem.Size(); return channels == 0 })
}

// panicOnSend makes the instance panic inside the consumer's own call path,
// the moment the consumer sends a frame containing "boom": a stand-in for a
// bug in a handler, with no test hook in the plugin itself.
func panicOnSend(next core.Application) core.Application {
	return core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		return next.Serve(ctx, scope, inbox, func(ctx context.Context, ev core.Event) error {
			if s, ok := ev.(websocket.Send); ok && strings.Contains(s.Text, "boom") {
				panic("boom")
			}
			return send(ctx, ev)
		})
	})
}

func TestGroupLeftAfterPanic(t *testing.T) {
	hub, mem := newHub(t)
	doomed := hub.WebSocket(panicOnSend(app()), "/ws/chat/lobby/")
	other := hub.WebSocket(app(), "/ws/chat/lobby/")
	doomed.Connect()
	other.Connect()
	other.SendJSON(chatroom.Inbound{Message: "boom"})
	expect(t, other, chatroom.Outbound{ID: anyID, Message: "boom", User: "Anonymous", Room: "lobby"})
	doomed.ExpectClose(websocket.CloseInternalError)
	if err := doomed.Wait(); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("scope ended with %v, want the panic", err)
	}
	if got := hub.Metrics.Panics.Load(); got != 1 {
		t.Fatalf("Panics = %d", got)
	}
	// Only the survivor is still in the room: one delivery per line.
	before := mem.Stats().Sent
	other.SendJSON(chatroom.Inbound{Message: "anyone?"})
	expect(t, other, chatroom.Outbound{ID: anyID, Message: "anyone?", User: "Anonymous", Room: "lobby"})
	if got := mem.Stats().Sent - before; got != 1 {
		t.Fatalf("the line was delivered %d times, want once (the panicked socket is still a member)", got)
	}
	other.Disconnect(websocket.CloseNormal)
	expectEmpty(t, mem)
}

// TestForeignPublisher speaks in a room the way another process or a Django
// Channels app would: straight to the group, with only the public fields.
func TestForeignPublisher(t *testing.T) {
	hub, mem := newHub(t)
	c := hub.WebSocket(app(), "/ws/chat/lobby/")
	c.Connect()
	err := mem.GroupSend(t.Context(), "chat_lobby", layer.Message{"type": "chat.message", "message": "from django", "user": "dj", "room": "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, chatroom.Outbound{Message: "from django", User: "dj", Room: "lobby"}) // no id given, none sent
	// Malformed lines are dropped, not fatal.
	if err := mem.GroupSend(t.Context(), "chat_lobby", layer.Message{"type": "chat.message", "message": 42}); err != nil {
		t.Fatal(err)
	}
	c.ExpectNothing()
}

// TestHistoryIsNotRepeated covers the join race: a line stored before the
// newcomer read the history but group-sent after it joined must reach it once.
func TestHistoryIsNotRepeated(t *testing.T) {
	hub, mem := newHub(t)
	room := core.NewState(t.Context(), hub.Store, "", "").Of("room:lobby")
	if err := room.Append("history", map[string]string{"id": "x1", "user": "ada", "message": "raced"}, 50); err != nil {
		t.Fatal(err)
	}
	c := hub.WebSocket(app(), "/ws/chat/lobby/")
	c.Connect()
	expect(t, c, chatroom.Outbound{ID: "x1", Message: "raced", User: "ada", Room: "lobby"})
	send := func(id, text string) {
		t.Helper()
		if err := mem.GroupSend(t.Context(), "chat_lobby", layer.Message{"type": "chat.message", "message": text, "user": "ada", "id": id}); err != nil {
			t.Fatal(err)
		}
	}
	send("x1", "raced") // the sender's group send, arriving late
	send("x2", "fresh")
	expect(t, c, chatroom.Outbound{ID: "x2", Message: "fresh", User: "ada", Room: "lobby"})
	send("x1", "raced") // once past the history, ids are no longer filtered
	expect(t, c, chatroom.Outbound{ID: "x1", Message: "raced", User: "ada", Room: "lobby"})
}

func TestConfig(t *testing.T) {
	small := core.URLRouter{core.Path(chatroom.Route, chatroom.New(chatroom.Config{History: 2, MaxMessage: 5}))}
	hub, _ := newHub(t)
	ada := hub.WebSocket(small, "/ws/chat/lobby/")
	ada.Connect()
	ada.SendJSON(chatroom.Inbound{Message: "123456"})
	var refused map[string]string
	ada.ReceiveJSON(&refused)
	if refused["error"] != "message too long: 6 bytes (limit 5)" {
		t.Fatalf("got %v", refused)
	}
	for _, m := range []string{"a", "b", "c"} {
		ada.SendJSON(chatroom.Inbound{Message: m})
		expect(t, ada, chatroom.Outbound{ID: anyID, Message: m, User: "Anonymous", Room: "lobby"})
	}
	bob := hub.WebSocket(small, "/ws/chat/lobby/")
	bob.Connect()
	expect(t, bob, chatroom.Outbound{ID: anyID, Message: "b", User: "Anonymous", Room: "lobby"})
	expect(t, bob, chatroom.Outbound{ID: anyID, Message: "c", User: "Anonymous", Room: "lobby"})
	bob.ExpectNothing()
}

func TestWithoutStoreOrHistory(t *testing.T) {
	// A hub without a store still chats; there is just no history.
	hub := hubtest.NewHub(t, hubtest.Store(nil))
	c := hub.WebSocket(app(), "/ws/chat/lobby/")
	c.Connect()
	c.SendJSON(chatroom.Inbound{Message: "hi"})
	expect(t, c, chatroom.Outbound{ID: anyID, Message: "hi", User: "Anonymous", Room: "lobby"})
}

func TestAuthenticatedUserCannotBeImpersonated(t *testing.T) {
	hub, _ := newHub(t)
	ada := hub.WebSocket(app(), "/ws/chat/lobby/", hubtest.ScopeFunc(func(s *core.Scope) {
		s.User = &core.User{ID: "7", Name: "ada"}
	}))
	ada.Connect()
	ada.SendJSON(chatroom.Inbound{Message: "hi", User: "the admin"})
	expect(t, ada, chatroom.Outbound{ID: anyID, Message: "hi", User: "ada", Room: "lobby"})
}
