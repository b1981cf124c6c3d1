package store

import (
	"testing"
	"time"
)

func TestScopeLifecycle(t *testing.T) {
	clock := newFakeClock()
	db, _ := openTest(t, withClock(clock.Now))
	ctx := t.Context()
	t0 := clock.Now()

	if _, ok, err := db.Scope(ctx, "ws:1"); err != nil || ok {
		t.Fatalf("Scope of unknown key: ok=%v err=%v", ok, err)
	}

	steps := []struct {
		name string
		do   func()
		want ScopeRecord
	}{
		{"opened", func() { db.ScopeOpened("ws:1", "websocket") },
			ScopeRecord{Key: "ws:1", Protocol: "websocket", OpenedAt: t0, LastSeen: t0}},
		{"seen", func() { clock.Advance(time.Second); db.ScopeSeen("ws:1") },
			ScopeRecord{Key: "ws:1", Protocol: "websocket", OpenedAt: t0, LastSeen: t0.Add(time.Second)}},
		{"closed", func() { clock.Advance(time.Second); db.ScopeClosed("ws:1") },
			ScopeRecord{Key: "ws:1", Protocol: "websocket", OpenedAt: t0, LastSeen: t0.Add(2 * time.Second), ClosedAt: t0.Add(2 * time.Second)}},
		{"reopened", func() { clock.Advance(time.Second); db.ScopeOpened("ws:1", "websocket") },
			ScopeRecord{Key: "ws:1", Protocol: "websocket", OpenedAt: t0.Add(3 * time.Second), LastSeen: t0.Add(3 * time.Second)}},
	}
	for _, s := range steps {
		s.do()
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got, ok, err := db.Scope(ctx, "ws:1")
		if err != nil || !ok {
			t.Fatalf("%s: Scope: ok=%v err=%v", s.name, ok, err)
		}
		if got.Key != s.want.Key || got.Protocol != s.want.Protocol ||
			!got.OpenedAt.Equal(s.want.OpenedAt) || !got.LastSeen.Equal(s.want.LastSeen) ||
			!got.ClosedAt.Equal(s.want.ClosedAt) || got.Open() != s.want.Open() {
			t.Errorf("%s: Scope = %+v, want %+v", s.name, got, s.want)
		}
	}

	// Closing an unknown scope (its open was dropped) is harmless.
	db.ScopeClosed("never-opened")
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.Failed != 0 {
		t.Errorf("Stats.Failed = %d", st.Failed)
	}
}

func TestAsyncWritesDropWhenQueueFull(t *testing.T) {
	const capacity, calls = 4, 10
	db, _ := openTest(t, withQueueSize(capacity))
	release := blockWriter(t, db)

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range calls {
			db.ScopeOpened(string(rune('a'+i)), "p") // must never block
		}
	}()
	within(t, "fire-and-forget calls to return with the writer blocked", done)
	if got := db.Stats().Dropped; got != calls-capacity {
		t.Errorf("Dropped = %d, want %d", got, calls-capacity)
	}

	release()
	if err := db.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, "scopes"); n != capacity {
		t.Errorf("scopes recorded = %d, want %d", n, capacity)
	}
}
