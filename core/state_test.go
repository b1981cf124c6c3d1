package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
)

// mapStore is a StateStore for core's own unit tests; package store has the
// SQLite one and its durability tests.
type mapStore struct {
	mu    sync.Mutex
	vals  map[core.StateKey][]byte
	lists map[core.StateKey][][]byte
}

func newMapStore() *mapStore {
	return &mapStore{vals: map[core.StateKey][]byte{}, lists: map[core.StateKey][][]byte{}}
}

func (m *mapStore) GetState(_ context.Context, k core.StateKey) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.vals[k]
	return v, ok, nil
}

func (m *mapStore) SetState(_ context.Context, k core.StateKey, v []byte, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vals[k] = v
	return nil
}

func (m *mapStore) DeleteState(_ context.Context, k core.StateKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.vals, k)
	return nil
}

func (m *mapStore) AppendState(_ context.Context, k core.StateKey, v []byte, keep int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := append(m.lists[k], v)
	if keep > 0 && len(l) > keep {
		l = l[len(l)-keep:]
	}
	m.lists[k] = l
	return nil
}

func (m *mapStore) ListState(_ context.Context, k core.StateKey) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lists[k], nil
}

func TestStateNamespacesAndConversations(t *testing.T) {
	st := core.NewState(t.Context(), newMapStore(), "", "telegram:bot:1")
	echo, notes := st.Namespace("echo"), st.Namespace("notes")
	if err := echo.Set("name", "Ada"); err != nil {
		t.Fatal(err)
	}
	if got := echo.String("name", "Anonymous"); got != "Ada" {
		t.Fatalf("echo name = %q", got)
	}
	if got := notes.String("name", "Anonymous"); got != "Anonymous" {
		t.Fatalf("another namespace sees %q", got)
	}
	if got := echo.Of("telegram:bot:2").String("name", "Anonymous"); got != "Anonymous" {
		t.Fatalf("another conversation sees %q", got)
	}
	echo.Delete("name")
	if got := echo.String("name", "gone"); got != "gone" {
		t.Fatalf("deleted key reads %q", got)
	}
}

func TestStateLists(t *testing.T) {
	room := core.NewState(t.Context(), newMapStore(), "chatroom", "").Of("room:lobby")
	type msg struct{ User, Text string }
	for _, m := range []msg{{"a", "1"}, {"b", "2"}, {"c", "3"}} {
		if err := room.Append("history", m, 2); err != nil {
			t.Fatal(err)
		}
	}
	var got []msg
	if err := room.List("history", &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Text != "2" || got[1].Text != "3" {
		t.Fatalf("history %v, want the newest two", got)
	}
	var empty []msg
	if err := room.List("nothing", &empty); err != nil || len(empty) != 0 {
		t.Fatalf("empty list: %v %v", empty, err)
	}
}

func TestStateWithoutStore(t *testing.T) {
	st := core.NewState(t.Context(), nil, "", "k")
	if err := st.Set("a", 1); !errors.Is(err, core.ErrNoStore) {
		t.Fatalf("Set without store: %v", err)
	}
	if got := st.String("a", "def"); got != "def" {
		t.Fatalf("String without store: %q", got)
	}
}

func TestNamedGivesTheConsumerItsNamespace(t *testing.T) {
	store := newMapStore()
	app := core.Named("echo", core.AppFunc(func(ctx context.Context, s *core.Scope, _ core.Inbox, _ core.SendFunc) error {
		return s.State.Set("seen", true)
	}))
	rt := &core.Runtime{App: app, Store: store, Logger: quiet}
	in, _ := rt.Start(t.Context(), &core.Scope{Key: "chat:1"}, nil)
	if err := wait(t, in); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.vals[core.StateKey{Namespace: "echo", Scope: "chat:1", Key: "seen"}]; !ok {
		t.Fatalf("state written under %v", store.vals)
	}
}
