package store

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
)

func TestCheckpointsAndInboundSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, ok, err := db.Checkpoint(ctx, "telegram:a:offset"); ok || err != nil {
		t.Fatalf("missing checkpoint: %v, %v", ok, err)
	}
	if err := db.SetCheckpoint(ctx, "telegram:a:offset", "5"); err != nil {
		t.Fatal(err)
	}
	ups := []Inbound{{ID: 5, Payload: []byte(`{"update_id":5}`)}, {ID: 6, Payload: []byte(`{"update_id":6}`)}, {ID: 7, Payload: []byte(`{"update_id":7}`)}}
	if err := db.InboundAdd(ctx, "telegram", "a", ups, "telegram:a:offset", "8"); err != nil {
		t.Fatal(err)
	}
	// Journaling again (a re-fetched batch) changes nothing.
	if err := db.InboundAdd(ctx, "telegram", "a", ups[:1], "", ""); err != nil {
		t.Fatal(err)
	}
	if err := db.InboundAdd(ctx, "telegram", "b", ups[:1], "", ""); err != nil {
		t.Fatal(err)
	}
	db.InboundHandled("telegram", "a", 6)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, ok, err := db.Checkpoint(ctx, "telegram:a:offset"); v != "8" || !ok || err != nil {
		t.Fatalf("checkpoint = %q, %v, %v; want 8", v, ok, err)
	}
	got, err := db.InboundPending(ctx, "telegram", "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != 5 || got[1].ID != 7 || string(got[1].Payload) != `{"update_id":7}` {
		t.Fatalf("pending updates = %+v, want 5 and 7", got)
	}
}

// A batch longer than one statement's rows is journaled whole, with its
// checkpoint; updates already journaled, or twice in the batch, keep the
// payload they were first journaled with.
func TestInboundAddManyRows(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	payload := func(id int64, v string) []byte { return fmt.Appendf(nil, `{"update_id":%d,"v":%q}`, id, v) }
	early := []Inbound{{ID: 3, Payload: payload(3, "first")}, {ID: inboundRows + 1, Payload: payload(inboundRows+1, "first")}}
	if err := db.InboundAdd(ctx, "telegram", "a", early, "", ""); err != nil {
		t.Fatal(err)
	}
	const n = 2*inboundRows + 7
	var batch []Inbound
	for id := int64(1); id <= n; id++ {
		batch = append(batch, Inbound{ID: id, Payload: payload(id, "batch")})
		if id == 10 || id == inboundRows+3 {
			batch = append(batch, Inbound{ID: id, Payload: payload(id, "again")})
		}
	}
	if err := db.InboundAdd(ctx, "telegram", "a", batch, "telegram:a:offset", strconv.Itoa(n+1)); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := db.Checkpoint(ctx, "telegram:a:offset"); v != strconv.Itoa(n+1) || !ok || err != nil {
		t.Fatalf("checkpoint = %q, %v, %v; want %d", v, ok, err, n+1)
	}
	got, err := db.InboundPending(ctx, "telegram", "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d pending updates, want %d", len(got), n)
	}
	for i, u := range got {
		id := int64(i + 1)
		want := payload(id, "batch")
		if id == 3 || id == inboundRows+1 {
			want = payload(id, "first")
		}
		if u.ID != id || string(u.Payload) != string(want) {
			t.Fatalf("pending[%d] = %d %s, want %d %s", i, u.ID, u.Payload, id, want)
		}
	}
	if other, err := db.InboundPending(ctx, "telegram", "b"); err != nil || len(other) != 0 {
		t.Fatalf("bot b: %d pending, %v; want none", len(other), err)
	}
}
