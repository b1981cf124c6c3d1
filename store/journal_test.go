package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestJournalReplayedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ids := map[string]int64{}
	for _, name := range []string{"written", "answered", "errored", "retried", "untouched", "done"} {
		id, err := db.OutboxAdd(ctx, entry("a", "", name))
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	steps := []struct {
		name string
		fn   func(int64) error
	}{
		{"written", db.OutboxWritten},
		{"answered", db.OutboxWritten},
		{"answered", func(id int64) error { return db.OutboxAnswered(id, "msg 42") }},
		{"errored", db.OutboxWritten},
		{"errored", db.OutboxErrored},
		{"retried", db.OutboxWritten},
		{"retried", db.OutboxErrored},
		{"retried", db.OutboxWritten},
		{"done", db.OutboxWritten},
		{"done", func(id int64) error { return db.OutboxAnswered(id, "7") }},
		{"done", func(id int64) error { return db.OutboxDone(ctx, id, "7") }},
	}
	for _, s := range steps {
		if err := s.fn(ids[s.name]); err != nil {
			t.Fatal(err)
		}
	}
	// A crash now: Close keeps the journal, as a killed process would.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]struct {
		pending         bool
		result, lastErr string
	}{
		"written":   {false, "", InDoubt},
		"answered":  {false, "msg 42", ""},
		"errored":   {true, "", ""},
		"retried":   {false, "", InDoubt},
		"untouched": {true, "", ""},
		"done":      {false, "7", ""},
	}
	for name, w := range want {
		e, _, err := db.OutboxGet(ctx, ids[name])
		if err != nil {
			t.Fatal(err)
		}
		if e.Pending() != w.pending || e.Result != w.result || e.LastError != w.lastErr {
			t.Errorf("%s: pending %v, result %q, last error %q; want %v, %q, %q", name, e.Pending(), e.Result, e.LastError, w.pending, w.result, w.lastErr)
		}
	}
	if data, err := os.ReadFile(JournalPath(path)); err != nil || len(data) != 0 {
		t.Errorf("journal after replay: %q, %v; want it empty", data, err)
	}
}

func TestParseJournal(t *testing.T) {
	got := parseJournal([]byte("W 1\nR 2 \"12\"\nW 3\nE 3\nR 4 unquoted\nX 5\nW x\nR 6\nW 7 extra\nW 1\nR 1 \"a b\"\nW 8"))
	want := map[int64]journalLine{1: {'R', "a b"}, 2: {'R', "12"}, 3: {'E', ""}}
	if len(got) != len(want) {
		t.Fatalf("parsed %v, want %v", got, want)
	}
	for id, l := range want {
		if got[id] != l {
			t.Errorf("entry %d: %+v, want %+v", id, got[id], l)
		}
	}
}

func TestJournalOfALiveProcessIsNotReplayed(t *testing.T) {
	first, path := openTest(t)
	id, err := first.OutboxAdd(t.Context(), entry("a", "", "in flight"))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.OutboxWritten(id); err != nil {
		t.Fatal(err)
	}
	// A second opener (a CLI command) while the first still sends: the
	// call in flight is not its to settle, nor its journal to append to.
	second, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if e, _, _ := second.OutboxGet(t.Context(), id); !e.Pending() {
		t.Fatalf("the second open settled a call in flight: %+v", e)
	}
	if err := second.OutboxWritten(id); err == nil {
		t.Fatal("two processes append to one journal")
	}
	// Once the first lets go (it held the lock only to replay, say), the
	// second appends.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := second.OutboxWritten(id); err != nil {
		t.Fatalf("the journal stays refused after the lock was released: %v", err)
	}
}

func TestJournalCompactsToTheLiveLines(t *testing.T) {
	db, path := openTest(t)
	ctx := t.Context()
	live, err := db.OutboxAdd(ctx, entry("a", "", "in flight"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.OutboxAnswered(live, "9"); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		id, err := db.OutboxAdd(ctx, entry("a", "", "sent"))
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range []func() error{
			func() error { return db.OutboxWritten(id) },
			func() error { return db.OutboxErrored(id) },
			func() error { return db.OutboxWritten(id) },
			func() error { return db.OutboxAnswered(id, "1") },
			func() error { return db.OutboxDone(ctx, id, "1") },
		} {
			if err := fn(); err != nil {
				t.Fatal(err)
			}
		}
	}
	db.calls.limit.Store(0) // the next line compacts
	if err := db.OutboxErrored(live + 1000); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(JournalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("R %d \"9\"\n", live); string(data) != want {
		t.Fatalf("journal after compaction: %q, want %q", data, want)
	}
}
