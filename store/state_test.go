package store

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
)

func TestGetSetDelete(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	k := core.StateKey{Namespace: "echo", Scope: "telegram:1", Key: "name"}

	if _, ok, err := db.GetState(ctx, k); err != nil || ok {
		t.Fatalf("GetState of missing key: ok=%v err=%v", ok, err)
	}
	steps := []struct {
		set  []byte
		want string
	}{
		{[]byte("alice"), "alice"},
		{[]byte("bob"), "bob"}, // overwrite
		{[]byte{}, ""},         // empty is a value, not absence
		{nil, ""},
	}
	for _, s := range steps {
		if err := db.SetState(ctx, k, s.set, 0); err != nil {
			t.Fatalf("SetState(%q): %v", s.set, err)
		}
		got, ok, err := db.GetState(ctx, k)
		if err != nil || !ok || string(got) != s.want {
			t.Errorf("after SetState(%q): GetState = %q, %v, %v", s.set, got, ok, err)
		}
	}
	if err := db.DeleteState(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.GetState(ctx, k); err != nil || ok {
		t.Errorf("GetState after delete: ok=%v err=%v", ok, err)
	}
	if err := db.DeleteState(ctx, k); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
}

func TestSetStateCopiesValue(t *testing.T) {
	db, _ := openTest(t)
	k := core.StateKey{Namespace: "n", Scope: "s", Key: "k"}
	buf := []byte("before")
	if err := db.SetState(t.Context(), k, buf, 0); err != nil {
		t.Fatal(err)
	}
	copy(buf, "after!")
	if got, _, _ := db.GetState(t.Context(), k); string(got) != "before" {
		t.Errorf("stored value changed with caller's buffer: %q", got)
	}
}

func TestInvalidArguments(t *testing.T) {
	db, _ := openTest(t)
	k := core.StateKey{Namespace: "n", Scope: "s", Key: "k"}
	if err := db.SetState(t.Context(), k, []byte("v"), -time.Second); err == nil {
		t.Error("SetState with negative ttl succeeded")
	}
	if err := db.AppendState(t.Context(), k, []byte("v"), -1); err == nil {
		t.Error("AppendState with negative keep succeeded")
	}
}

func TestNamespacesIsolate(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	base := core.StateKey{Namespace: "echo", Scope: "telegram:1", Key: "k"}
	if err := db.SetState(ctx, base, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendState(ctx, base, []byte("item"), 0); err != nil {
		t.Fatal(err)
	}
	others := []struct {
		name string
		k    core.StateKey
	}{
		{"other namespace", core.StateKey{Namespace: "quiz", Scope: "telegram:1", Key: "k"}},
		{"other scope", core.StateKey{Namespace: "echo", Scope: "telegram:2", Key: "k"}},
		{"other key", core.StateKey{Namespace: "echo", Scope: "telegram:1", Key: "k2"}},
		// Fields are stored apart, so moving a separator cannot alias keys.
		{"shifted separator", core.StateKey{Namespace: "echo/telegram:1", Scope: "", Key: "k"}},
	}
	for _, o := range others {
		t.Run(o.name, func(t *testing.T) {
			if _, ok, err := db.GetState(ctx, o.k); err != nil || ok {
				t.Errorf("GetState(%+v): ok=%v err=%v, want missing", o.k, ok, err)
			}
			if l, err := db.ListState(ctx, o.k); err != nil || len(l) != 0 {
				t.Errorf("ListState(%+v) = %q, %v, want empty", o.k, l, err)
			}
			if err := db.DeleteState(ctx, o.k); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, ok, _ := db.GetState(ctx, base); !ok {
		t.Error("deleting other keys removed the base value")
	}
}

func TestTTL(t *testing.T) {
	clock := newFakeClock()
	db, _ := openTest(t, withClock(clock.Now), WithSweepInterval(0))
	ctx := t.Context()
	short := core.StateKey{Namespace: "n", Scope: "s", Key: "short"}
	forever := core.StateKey{Namespace: "n", Scope: "s", Key: "forever"}
	if err := db.SetState(ctx, short, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := db.SetState(ctx, forever, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		advance            time.Duration
		wantShort, wantFor bool
	}{
		{0, true, true},
		{59 * time.Second, true, true},
		{time.Second, false, true}, // exactly at expiry: gone
		{1000 * time.Hour, false, true},
	}
	for _, c := range cases {
		clock.Advance(c.advance)
		if _, ok, err := db.GetState(ctx, short); err != nil || ok != c.wantShort {
			t.Errorf("at +%v: short ok=%v err=%v, want %v", c.advance, ok, err, c.wantShort)
		}
		if _, ok, err := db.GetState(ctx, forever); err != nil || ok != c.wantFor {
			t.Errorf("at +%v: forever ok=%v err=%v, want %v", c.advance, ok, err, c.wantFor)
		}
	}
	// The expired read queued a lazy delete.
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, "state"); n != 1 {
		t.Errorf("rows after lazy delete = %d, want 1", n)
	}

	// Setting again revives the key with a fresh TTL.
	if err := db.SetState(ctx, short, []byte("again"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := db.GetState(ctx, short); !ok || string(got) != "again" {
		t.Errorf("reset value = %q, %v", got, ok)
	}
}

func TestSweep(t *testing.T) {
	clock := newFakeClock()
	db, _ := openTest(t, withClock(clock.Now), WithSweepInterval(0))
	ctx := t.Context()
	const expiring = sweepChunk + 10 // more than one chunk
	for i := range expiring {
		k := core.StateKey{Namespace: "n", Scope: "s", Key: strconv.Itoa(i)}
		if err := db.SetState(ctx, k, []byte("v"), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetState(ctx, core.StateKey{Namespace: "n", Scope: "s", Key: "keep"}, []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if n, err := db.sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before expiry = %d, %v", n, err)
	}
	clock.Advance(time.Minute)
	if n, err := db.sweep(ctx); err != nil || n != expiring {
		t.Fatalf("sweep = %d, %v; want %d", n, err, expiring)
	}
	if n := countRows(t, db, "state"); n != 1 {
		t.Errorf("rows after sweep = %d, want 1", n)
	}
}

func TestSweepLoopRunsInBackground(t *testing.T) {
	clock := newFakeClock()
	db, _ := openTest(t, withClock(clock.Now), WithSweepInterval(time.Millisecond))
	k := core.StateKey{Namespace: "n", Scope: "s", Key: "k"}
	if err := db.SetState(t.Context(), k, []byte("v"), time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	waitFor(t, "the sweep to delete the expired row", func() bool { return countRows(t, db, "state") == 0 })
}

func TestListAppendKeep(t *testing.T) {
	cases := []struct {
		name  string
		steps []struct{ n, keep int } // append n values with keep
		want  []int                   // values left, oldest first (values are 0,1,2… in append order)
	}{
		{"keep all", []struct{ n, keep int }{{5, 0}}, []int{0, 1, 2, 3, 4}},
		{"keep newest 3", []struct{ n, keep int }{{5, 3}}, []int{2, 3, 4}},
		{"keep 1", []struct{ n, keep int }{{4, 1}}, []int{3}},
		{"under the limit", []struct{ n, keep int }{{2, 5}}, []int{0, 1}},
		{"limit shrinks later", []struct{ n, keep int }{{5, 0}, {1, 2}}, []int{4, 5}},
		{"limit grows later", []struct{ n, keep int }{{5, 2}, {2, 10}}, []int{3, 4, 5, 6}},
	}
	db, _ := openTest(t)
	ctx := t.Context()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := core.StateKey{Namespace: "n", Scope: "s", Key: c.name}
			i := 0
			for _, s := range c.steps {
				for range s.n {
					if err := db.AppendState(ctx, k, []byte(strconv.Itoa(i)), s.keep); err != nil {
						t.Fatal(err)
					}
					i++
				}
			}
			got, err := db.ListState(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			var want [][]byte
			for _, v := range c.want {
				want = append(want, []byte(strconv.Itoa(v)))
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
				t.Errorf("ListState = %q, want %q", got, want)
			}
		})
	}

	// Deleting clears the list; appending starts afresh.
	k := core.StateKey{Namespace: "n", Scope: "s", Key: "keep all"}
	if err := db.DeleteState(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendState(ctx, k, []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.ListState(ctx, k); len(got) != 1 || string(got[0]) != "x" {
		t.Errorf("after delete+append: %q", got)
	}
}

func TestConcurrentAppends(t *testing.T) {
	const goroutines, each = 50, 20
	for _, keep := range []int{0, 25} {
		t.Run(fmt.Sprintf("keep=%d", keep), func(t *testing.T) {
			db, _ := openTest(t)
			ctx := t.Context()
			k := core.StateKey{Namespace: "n", Scope: "s", Key: "log"}
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range each {
						if err := db.AppendState(ctx, k, fmt.Appendf(nil, "%d:%d", g, i), keep); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()

			got, err := db.ListState(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			want := goroutines * each
			if keep > 0 {
				want = keep
			}
			if len(got) != want {
				t.Fatalf("len = %d, want %d", len(got), want)
			}
			// Each goroutine's values must appear in its own order, and
			// since trimming removes the oldest, what is kept of each
			// goroutine is the tail of its sequence.
			seen := map[int][]int{}
			for _, v := range got {
				g, i, ok := bytes.Cut(v, []byte(":"))
				if !ok {
					t.Fatalf("bad value %q", v)
				}
				gi, _ := strconv.Atoi(string(g))
				ii, _ := strconv.Atoi(string(i))
				seen[gi] = append(seen[gi], ii)
			}
			for g, is := range seen {
				for j, i := range is {
					if want := each - len(is) + j; i != want {
						t.Fatalf("goroutine %d kept %v, want the tail of 0..%d", g, is, each-1)
					}
				}
			}
			if keep == 0 && len(seen) != goroutines {
				t.Errorf("values from %d goroutines, want %d", len(seen), goroutines)
			}
			if n := countRows(t, db, "state_list"); n != want {
				t.Errorf("rows = %d, want %d (trimmed rows must be deleted)", n, want)
			}
		})
	}
}

func TestLargeValue(t *testing.T) {
	db, _ := openTest(t)
	k := core.StateKey{Namespace: "n", Scope: "s", Key: "big"}
	v := []byte(strings.Repeat("x", 1<<20))
	if err := db.SetState(t.Context(), k, v, 0); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := db.GetState(t.Context(), k); err != nil || !ok || !bytes.Equal(got, v) {
		t.Errorf("round trip of 1 MiB failed: ok=%v err=%v len=%d", ok, err, len(got))
	}
}
