package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func entry(bot, dedupe, text string) OutboxEntry {
	return OutboxEntry{Platform: "telegram", Bot: bot, Scope: "telegram:" + bot + ":42", Kind: "chat.send", Payload: []byte(`{"text":"` + text + `"}`), Dedupe: dedupe}
}

func TestOutboxLifecycle(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	var ids []int64
	for _, e := range []OutboxEntry{entry("a", "", "one"), entry("b", "", "other bot"), entry("a", "7:0", "two"), entry("a", "", "three")} {
		id, err := db.OutboxAdd(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// A replayed update writes the same key: the first entry stands.
	if id, err := db.OutboxAdd(ctx, entry("a", "7:0", "two again")); !errors.Is(err, ErrDuplicate) || id != ids[2] {
		t.Fatalf("duplicate add = %d, %v; want %d, ErrDuplicate", id, err, ids[2])
	}
	// The same key for another bot is another entry.
	if _, err := db.OutboxAdd(ctx, entry("b", "7:0", "b's")); err != nil {
		t.Fatal(err)
	}

	assertPending(t, db, "a", `{"text":"one"}`, `{"text":"two"}`, `{"text":"three"}`)
	if err := db.OutboxDone(ctx, ids[0], "101"); err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(time.Minute)
	if err := db.OutboxRetry(ctx, ids[2], next, "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	if err := db.OutboxFail(ctx, ids[3], "Bad Request"); err != nil {
		t.Fatal(err)
	}
	assertPending(t, db, "a", `{"text":"two"}`)

	done, ok, err := db.OutboxGet(ctx, ids[0])
	if err != nil || !ok || done.Pending() || done.Result != "101" || done.Attempts != 1 {
		t.Fatalf("done entry = %+v, %v, %v", done, ok, err)
	}
	retry, _, _ := db.OutboxGet(ctx, ids[2])
	if !retry.Pending() || retry.Attempts != 1 || retry.LastError != "HTTP 500" || retry.NextAttempt.UnixNano() != next.UnixNano() || retry.Dedupe != "7:0" {
		t.Fatalf("retried entry = %+v", retry)
	}
	failed, _, _ := db.OutboxGet(ctx, ids[3])
	if failed.Pending() || !failed.Failed || failed.LastError != "Bad Request" {
		t.Fatalf("failed entry = %+v", failed)
	}
	// Done twice keeps the first answer.
	if err := db.OutboxDone(ctx, ids[0], "999"); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := db.OutboxGet(ctx, ids[0]); e.Result != "101" {
		t.Fatalf("result overwritten: %+v", e)
	}
	if _, ok, _ := db.OutboxGet(ctx, 12345); ok {
		t.Fatal("found a missing entry")
	}
}

func assertPending(t *testing.T, db *DB, bot string, payloads ...string) {
	t.Helper()
	got, err := db.OutboxPending(t.Context(), "telegram", bot, 0)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range got {
		texts = append(texts, string(e.Payload))
	}
	if len(texts) != len(payloads) {
		t.Fatalf("pending %q, want %q", texts, payloads)
	}
	for i := range texts {
		if texts[i] != payloads[i] {
			t.Fatalf("pending %q, want %q", texts, payloads)
		}
	}
}

func TestOutboxSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	first, _ := db.OutboxAdd(ctx, entry("a", "1:0", "sent"))
	if _, err := db.OutboxAdd(ctx, entry("a", "2:0", "pending")); err != nil {
		t.Fatal(err)
	}
	if err := db.OutboxDone(ctx, first, "5"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	assertPending(t, db, "a", `{"text":"pending"}`)
	if _, err := db.OutboxAdd(ctx, entry("a", "1:0", "sent")); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("dedupe key forgotten across reopen: %v", err)
	}
	// New ids still grow past the old ones: sending order is id order.
	id, err := db.OutboxAdd(ctx, entry("a", "", "new"))
	if err != nil || id <= first+1 {
		t.Fatalf("new id %d after %d: %v", id, first+1, err)
	}
	if n, err := db.OutboxPrune(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want the one sent entry", n, err)
	}
	assertPending(t, db, "a", `{"text":"pending"}`, `{"text":"new"}`)
}

func TestOutboxPendingLimit(t *testing.T) {
	db, _ := openTest(t)
	for range 5 {
		if _, err := db.OutboxAdd(t.Context(), entry("a", "", "x")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.OutboxPending(t.Context(), "telegram", "a", 3)
	if err != nil || len(got) != 3 || got[0].ID >= got[1].ID {
		t.Fatalf("pending = %d entries, %v", len(got), err)
	}
}

// Adds queued in one batch each get their own entry's id, a duplicate too
// (the id of the entry its key names, not of the batch's last insert).
func TestOutboxAddsInOneBatch(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	first, err := db.OutboxAdd(ctx, entry("a", "1:0", "first"))
	if err != nil {
		t.Fatal(err)
	}
	release := blockWriter(t, db)
	type added struct {
		text string
		id   int64
		err  error
	}
	out := make(chan added, 4)
	for i, e := range []OutboxEntry{entry("a", "2:0", "two"), entry("a", "1:0", "first again"), entry("a", "", "no key"), entry("a", "2:0", "two again")} {
		go func() {
			id, err := db.OutboxAdd(ctx, e)
			out <- added{string(e.Payload), id, err}
		}()
		waitFor(t, "the add to queue", func() bool { return len(db.queue) == i+1 })
	}
	release()
	got := map[string]added{}
	for range 4 {
		a := within(t, "an add", out)
		got[a.text] = a
	}
	two, noKey := got[`{"text":"two"}`], got[`{"text":"no key"}`]
	if two.err != nil || noKey.err != nil || two.id == noKey.id || two.id <= first || noKey.id <= first {
		t.Fatalf("new entries: %+v, %+v", two, noKey)
	}
	if a := got[`{"text":"first again"}`]; !errors.Is(a.err, ErrDuplicate) || a.id != first {
		t.Errorf("duplicate of an earlier batch's entry: %+v, want id %d", a, first)
	}
	if a := got[`{"text":"two again"}`]; !errors.Is(a.err, ErrDuplicate) || a.id != two.id {
		t.Errorf("duplicate of the same batch's entry: %+v, want id %d", a, two.id)
	}
	for _, a := range []added{two, noKey} {
		if e, ok, err := db.OutboxGet(ctx, a.id); !ok || err != nil || string(e.Payload) != a.text {
			t.Errorf("entry %d = %+v, %v, %v; want %s", a.id, e, ok, err, a.text)
		}
	}
}
