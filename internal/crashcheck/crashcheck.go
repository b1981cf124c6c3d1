package crashcheck

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubhq/hub/internal/witness"
	"github.com/hubhq/hub/store"
)

// Read returns what the restart of the dead hub at dbPath will settle of
// the calls it left in flight: it waits for the hub's witness to write its
// lines, then opens a copy of the store (which replays the copied journal)
// and reports that replay. The hub's own restart replays the originals.
func Read(t testing.TB, dbPath string) store.Replay {
	t.Helper()
	if !witness.Wait(store.JournalPath(dbPath), 10*time.Second) {
		t.Fatal("the dead hub's witness did not finish within 10 s")
	}
	copyPath := filepath.Join(t.TempDir(), filepath.Base(dbPath))
	for _, suffix := range []string{"", "-wal", "-shm", store.JournalPath("")} {
		copyFile(t, dbPath+suffix, copyPath+suffix)
	}
	db, err := store.Open(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Replayed()
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// Check compares the replies the platform got (count by text) with want:
// every text answered exactly once. It returns a summary for the log.
func Check(t testing.TB, got map[string]int, want []string) string {
	t.Helper()
	repeated, lost := 0, 0
	for _, text := range want {
		switch n := got[text]; {
		case n == 0:
			lost++
			t.Errorf("%q: never answered", text)
		case n > 1:
			repeated++
			t.Errorf("%q: answered %d times", text, n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d distinct replies, want %d", len(got), len(want))
	}
	return fmt.Sprintf("%d updates answered, %d repeated, %d lost", len(got), repeated, lost)
}
