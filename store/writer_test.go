package store

import (
	"context"
	"database/sql"
	"errors"
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
