package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/hubhq/hub/core"
)

func TestGroupCommitBatches(t *testing.T) {
	db, _ := openTest(t)
	release := blockWriter(t, db)

	const writers = 50
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			k := core.StateKey{Namespace: "n", Scope: "s", Key: strconv.Itoa(i)}
			if err := db.SetState(context.Background(), k, []byte("v"), 0); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "all writers to queue", func() bool { return len(db.queue) == writers })
	release()
	wg.Wait()

	st := db.Stats()
	// The blocking write is one batch; the 50 queued behind it are one more.
	if st.Writes != writers+1 || st.Batches != 2 {
		t.Errorf("Stats = %+v, want %d writes in 2 batches", st, writers+1)
	}
	if n := countRows(t, db, "state"); n != writers {
		t.Errorf("rows = %d, want %d", n, writers)
	}
}

func TestFailingWriteDoesNotFailItsBatch(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	release := blockWriter(t, db)

	bad := errors.New("boom")
	good := core.StateKey{Namespace: "n", Scope: "s", Key: "good"}
	errc := make(chan error, 2)
	go func() {
		errc <- db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			// A partial change that must be rolled back with the op.
			if _, err := tx.ExecContext(ctx, `INSERT INTO scopes (key, protocol, opened_at, last_seen) VALUES ('x', 'p', 0, 0)`); err != nil {
				return err
			}
			return bad
		})
	}()
	waitFor(t, "the failing write to queue", func() bool { return len(db.queue) == 1 })
	go func() { errc <- db.SetState(ctx, good, []byte("v"), 0) }()
	waitFor(t, "both writes to queue", func() bool { return len(db.queue) == 2 })
	release()

	var gotBad, gotNil int
	for range 2 {
		switch err := within(t, "write results", errc); {
		case errors.Is(err, bad):
			gotBad++
		case err == nil:
			gotNil++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if gotBad != 1 || gotNil != 1 {
		t.Errorf("results: %d failed, %d ok; want 1 and 1", gotBad, gotNil)
	}
	if _, ok, _ := db.GetState(ctx, good); !ok {
		t.Error("the good write in the same batch was lost")
	}
	if _, ok, _ := db.Scope(ctx, "x"); ok {
		t.Error("the failing write's partial change was committed")
	}
	if st := db.Stats(); st.Failed != 1 || st.Batches != 2 {
		t.Errorf("Stats = %+v, want 1 failed in 2 batches", st)
	}
}

func TestCancelledContextReturnsPromptly(t *testing.T) {
	k := core.StateKey{Namespace: "n", Scope: "s", Key: "k"}
	cases := []struct {
		name      string
		queue     int            // queue capacity
		preCancel bool           // cancel before calling
		fill      bool           // fill the queue so SetState blocks enqueueing
		waiting   func(*DB) bool // SetState is observably waiting (nil: can't observe)
	}{
		{name: "already cancelled", queue: 16, preCancel: true},
		{name: "waiting for commit", queue: 16, waiting: func(db *DB) bool { return len(db.queue) == 1 }},
		// A blocked channel send can't be observed; cancelling at any
		// point of it must work.
		{name: "waiting for queue space", queue: 1, fill: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, _ := openTest(t, withQueueSize(c.queue))
			release := blockWriter(t, db)
			if c.fill {
				db.ScopeOpened("filler", "p")
			}
			ctx, cancel := context.WithCancel(t.Context())
			if c.preCancel {
				cancel()
			}
			errc := make(chan error, 1)
			go func() { errc <- db.SetState(ctx, k, []byte("v"), 0) }()
			if c.waiting != nil {
				waitFor(t, "SetState to wait", func() bool { return c.waiting(db) })
			}
			cancel()
			if err := within(t, "SetState to return after cancel", errc); !errors.Is(err, context.Canceled) {
				t.Errorf("SetState = %v, want context.Canceled", err)
			}

			// The writer had not reached the write, so it is skipped.
			release()
			if err := db.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := db.GetState(t.Context(), k); ok {
				t.Error("cancelled write was applied")
			}
			if st := db.Stats(); st.Failed != 0 {
				t.Errorf("Stats.Failed = %d; a cancelled write is not a failure", st.Failed)
			}
		})
	}
}

// Marks queued together are applied in one statement per kind: each keeps
// the effect it has alone, and a failing one is isolated like an op.
func TestMarksInOneBatch(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	var ids []int64
	for i := range 5 {
		id, err := db.OutboxAdd(ctx, OutboxEntry{Platform: "telegram", Bot: "a", Scope: "s", Kind: "chat.send", Payload: []byte(`{}`), Dedupe: strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ups := []Inbound{{ID: 1, Payload: []byte(`{}`)}, {ID: 2, Payload: []byte(`{}`)}, {ID: 3, Payload: []byte(`{}`)}}
	for _, bot := range []string{"a", "b"} {
		if err := db.InboundAdd(ctx, "telegram", bot, ups, "", ""); err != nil {
			t.Fatal(err)
		}
	}

	release := blockWriter(t, db)
	errc := make(chan error, 5)
	for i, id := range ids[:4] {
		go func() { errc <- db.OutboxDone(ctx, id, fmt.Sprintf("m%d \"quoted\"", i)) }()
	}
	waitFor(t, "the done marks to queue", func() bool { return len(db.queue) == 4 })
	go func() { errc <- db.OutboxDone(ctx, ids[0], "second answer") }() // a mark twice keeps the first
	waitFor(t, "the second mark to queue", func() bool { return len(db.queue) == 5 })
	db.InboundHandled("telegram", "a", 1)
	db.InboundHandled("telegram", "a", 3)
	db.InboundHandled("telegram", "b", 2)
	release()
	for range 5 {
		if err := within(t, "a done mark", errc); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.Batches != 5+2+1+1+1 { // 5 adds, 2 journals, the blocker, the marks, the flush
		t.Errorf("Stats = %+v: the marks were not one batch", st)
	}
	for i, id := range ids {
		e, ok, err := db.OutboxGet(ctx, id)
		if err != nil || !ok {
			t.Fatalf("get %d: %v %v", id, ok, err)
		}
		want := fmt.Sprintf("m%d \"quoted\"", i)
		if i == 4 {
			if !e.Pending() || e.Attempts != 0 {
				t.Errorf("entry %d = %+v, want pending", i, e)
			}
			continue
		}
		if e.Pending() || e.Result != want || e.Attempts != 1 || e.SentAt.IsZero() {
			t.Errorf("entry %d = %+v, want sent with %q after one attempt", i, e, want)
		}
	}
	for bot, want := range map[string][]int64{"a": {2}, "b": {1, 3}} {
		got, err := db.InboundPending(ctx, "telegram", bot)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []int64
		for _, u := range got {
			gotIDs = append(gotIDs, u.ID)
		}
		if fmt.Sprint(gotIDs) != fmt.Sprint(want) {
			t.Errorf("bot %s: pending %v, want %v", bot, gotIDs, want)
		}
	}
}

// A mark that fails (here: its kind) fails alone; the batch's other marks
// and ops commit.
func TestFailingMarkIsIsolated(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	bad := errors.New("bad mark")
	failing := markKind{apply: func(ctx context.Context, tx *sql.Tx, args []any) error {
		for _, a := range args {
			if a == "bad" {
				return bad
			}
		}
		return nil
	}}
	id, err := db.OutboxAdd(ctx, OutboxEntry{Platform: "telegram", Bot: "a", Scope: "s", Kind: "chat.send", Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	release := blockWriter(t, db)
	errc := make(chan error, 3)
	go func() { errc <- db.applyMark(ctx, &failing, "good") }()
	waitFor(t, "the good mark to queue", func() bool { return len(db.queue) == 1 })
	go func() { errc <- db.applyMark(ctx, &failing, "bad") }()
	waitFor(t, "the bad mark to queue", func() bool { return len(db.queue) == 2 })
	go func() { errc <- db.OutboxDone(ctx, id, "7") }()
	waitFor(t, "the done mark to queue", func() bool { return len(db.queue) == 3 })
	release()
	var failed int
	for range 3 {
		if err := within(t, "a mark", errc); errors.Is(err, bad) {
			failed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if failed != 1 {
		t.Errorf("%d marks failed, want the bad one", failed)
	}
	if e, _, _ := db.OutboxGet(ctx, id); e.Result != "7" {
		t.Errorf("entry = %+v, want done with 7", e)
	}
}
