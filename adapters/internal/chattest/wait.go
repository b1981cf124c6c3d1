package chattest

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/store"
)

// Timeout is how long Eventually waits.
const Timeout = 10 * time.Second

// Eventually polls cond until it holds, failing the test after Timeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !poll.Wait(Timeout, cond) {
		t.Fatalf("timed out waiting until %s", what)
	}
}

// OpenStore opens a store in a temporary directory, closed when the test
// ends.
func OpenStore(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Texts is the text of each message a fake received.
func Texts[M any](msgs []M, text func(M) string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = text(m)
	}
	return out
}

// AssertTexts fails the test unless the texts sent are want, in order.
func AssertTexts(t testing.TB, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("sent %q, want %q", got, want)
	}
}
