package store

import (
	"path/filepath"
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
