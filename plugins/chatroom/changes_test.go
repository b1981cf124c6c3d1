package chatroom_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/hubtest"
	"github.com/hubhq/hub/plugins/chatroom"
)

// named mounts the consumer under its registered name, as the server
// does, so its history is where Remember and its kin write.
func named(cfg chatroom.Config) core.Application {
	return core.URLRouter{core.Path(chatroom.Route, core.Named(chatroom.Name, chatroom.New(cfg)))}
}

// room speaks in the lobby's group and records in its history, the way a
// publisher such as the bridge does.
type room struct {
	t   *testing.T
	hub *hubtest.Hub
	mem *layer.Memory
}

func (r room) group(msg layer.Message) {
	r.t.Helper()
	if err := r.mem.GroupSend(r.t.Context(), "chat_lobby", msg); err != nil {
		r.t.Fatal(err)
	}
}

func (r room) line(id, user, text string) {
	r.t.Helper()
	if err := chatroom.Remember(r.t.Context(), r.hub.Store, "lobby", id, user, text, chatroom.DefaultHistory); err != nil {
		r.t.Fatal(err)
	}
	r.group(layer.Message{"type": chatroom.MessageType, "message": text, "user": user, "room": "lobby", "id": id})
}

func (r room) edit(id, user, text string) {
	r.t.Helper()
	if err := chatroom.RememberEdit(r.t.Context(), r.hub.Store, "lobby", id, user, text, chatroom.DefaultHistory); err != nil {
		r.t.Fatal(err)
	}
	r.group(layer.Message{"type": chatroom.EditedType, "message": text, "user": user, "room": "lobby", "id": id})
}

func (r room) remove(id string) {
	r.t.Helper()
	if err := chatroom.RememberDelete(r.t.Context(), r.hub.Store, "lobby", id, chatroom.DefaultHistory); err != nil {
		r.t.Fatal(err)
	}
	r.group(layer.Message{"type": chatroom.DeletedType, "room": "lobby", "id": id})
}

func (r room) join() *hubtest.WebSocketCommunicator {
	c := r.hub.WebSocket(named(chatroom.Config{}), "/ws/chat/lobby/")
	c.Connect()
	return c
}

// TestEditAndDeleteChangeTheLine: members are told which line changed, by
// its id, and newcomers get the history with the change applied.
func TestEditAndDeleteChangeTheLine(t *testing.T) {
	hub, mem := newHub(t)
	r := room{t, hub, mem}
	ada := r.join()
	ada.SendJSON(chatroom.Inbound{Message: "first", User: "ada"})
	first := expect(t, ada, chatroom.Outbound{ID: anyID, Message: "first", User: "ada", Room: "lobby"})
	r.line("p1", "bob", "teh plan")
	expect(t, ada, chatroom.Outbound{ID: "p1", Message: "teh plan", User: "bob", Room: "lobby"})
	r.line("p2", "bob", "oops")
	expect(t, ada, chatroom.Outbound{ID: "p2", Message: "oops", User: "bob", Room: "lobby"})

	r.edit("p1", "bob", "the plan")
	expect(t, ada, chatroom.Outbound{ID: "p1", Message: "the plan", User: "bob", Room: "lobby", Edited: true})
	r.edit("p1", "bob", "the plan, again")
	expect(t, ada, chatroom.Outbound{ID: "p1", Message: "the plan, again", User: "bob", Room: "lobby", Edited: true})
	r.remove("p2")
	expect(t, ada, chatroom.Outbound{ID: "p2", Room: "lobby", Deleted: true})

	// The newcomer's history: the edited line in its place, the deleted one gone.
	cy := r.join()
	expect(t, cy, chatroom.Outbound{ID: first.ID, Message: "first", User: "ada", Room: "lobby"})
	expect(t, cy, chatroom.Outbound{ID: "p1", Message: "the plan, again", User: "bob", Room: "lobby", Edited: true})
	cy.ExpectNothing()

	// It stays so after a restart (the history is in SQLite).
	hub.Restart()
	dee := r.join()
	expect(t, dee, chatroom.Outbound{ID: first.ID, Message: "first", User: "ada", Room: "lobby"})
	expect(t, dee, chatroom.Outbound{ID: "p1", Message: "the plan, again", User: "bob", Room: "lobby", Edited: true})
	dee.ExpectNothing()
}

// TestEditOfAnUnknownLine: an edit of a line the history no longer has (or
// never had) reaches members with its id, for a client to show as a line of
// its own, and newcomers get it as one, marked edited.
func TestEditOfAnUnknownLine(t *testing.T) {
	hub, mem := newHub(t)
	r := room{t, hub, mem}
	r.line("p1", "bob", "kept")
	ada := r.join()
	expect(t, ada, chatroom.Outbound{ID: "p1", Message: "kept", User: "bob", Room: "lobby"})
	r.edit("gone", "bob", "new text of an old line")
	expect(t, ada, chatroom.Outbound{ID: "gone", Message: "new text of an old line", User: "bob", Room: "lobby", Edited: true})
	r.remove("never") // nothing to remove in the history; members are told all the same
	expect(t, ada, chatroom.Outbound{ID: "never", Room: "lobby", Deleted: true})

	cy := r.join()
	expect(t, cy, chatroom.Outbound{ID: "p1", Message: "kept", User: "bob", Room: "lobby"})
	expect(t, cy, chatroom.Outbound{ID: "gone", Message: "new text of an old line", User: "bob", Room: "lobby", Edited: true})
	cy.ExpectNothing()
}

// TestChangesWithoutID: a publisher that names no line (an older bridge, a
// foreign app) still gets its edit shown, as a line of its own marked
// edited; a deletion naming no line is dropped quietly.
func TestChangesWithoutID(t *testing.T) {
	hub, mem := newHub(t)
	r := room{t, hub, mem}
	c := r.join()
	unhandled := consumers.ReadStats().Unhandled
	r.group(layer.Message{"type": chatroom.EditedType, "message": "fixed", "user": "ada", "origin": "telegram:b:1"})
	expect(t, c, chatroom.Outbound{Message: "fixed", User: "ada", Room: "lobby", Edited: true})
	r.group(layer.Message{"type": chatroom.DeletedType, "origin": "discord:b:2"})
	r.group(layer.Message{"type": chatroom.EditedType, "id": "p1"}) // no text: dropped
	c.ExpectNothing()
	if got := consumers.ReadStats().Unhandled - unhandled; got != 0 {
		t.Fatalf("%d layer messages unhandled", got)
	}
}

// TestHistoryLimitCountsLines: edits and deletions do not push lines out of
// a newcomer's history, and a deleted line never comes back as the log is
// trimmed.
func TestHistoryLimitCountsLines(t *testing.T) {
	hub, _ := newHub(t)
	small := named(chatroom.Config{History: 3})
	keep := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx := t.Context()
	for i := range 3 {
		keep(chatroom.Remember(ctx, hub.Store, "lobby", fmt.Sprint("l", i), "ada", fmt.Sprint("line ", i), 3))
	}
	keep(chatroom.RememberDelete(ctx, hub.Store, "lobby", "l0", 3))
	keep(chatroom.RememberEdit(ctx, hub.Store, "lobby", "l1", "ada", "line 1, edited", 3))
	keep(chatroom.Remember(ctx, hub.Store, "lobby", "l3", "ada", "line 3", 3))
	keep(chatroom.Remember(ctx, hub.Store, "lobby", "l4", "ada", "line 4", 3))
	c := hub.WebSocket(small, "/ws/chat/lobby/")
	c.Connect()
	expect(t, c, chatroom.Outbound{ID: "l2", Message: "line 2", User: "ada", Room: "lobby"})
	expect(t, c, chatroom.Outbound{ID: "l3", Message: "line 3", User: "ada", Room: "lobby"})
	expect(t, c, chatroom.Outbound{ID: "l4", Message: "line 4", User: "ada", Room: "lobby"})
	c.ExpectNothing()
}

// TestConcurrentChangesLoseNothing: lines and their edits recorded from
// many goroutines at once (members, a bridge) are all in the history.
func TestConcurrentChangesLoseNothing(t *testing.T) {
	hub, _ := newHub(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprint("c", i)
			if err := chatroom.Remember(t.Context(), hub.Store, "lobby", id, "ada", "draft", chatroom.DefaultHistory); err != nil {
				t.Error(err)
			}
			if err := chatroom.RememberEdit(t.Context(), hub.Store, "lobby", id, "ada", "final "+id, chatroom.DefaultHistory); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	c := hub.WebSocket(named(chatroom.Config{}), "/ws/chat/lobby/")
	c.Connect()
	seen := map[string]bool{}
	for range n {
		var got chatroom.Outbound
		c.ReceiveJSON(&got)
		if got.Message != "final "+got.ID || !got.Edited || seen[got.ID] {
			t.Fatalf("got %+v (seen before: %v), want each line once with its edit applied", got, seen[got.ID])
		}
		seen[got.ID] = true
	}
	c.ExpectNothing()
}
