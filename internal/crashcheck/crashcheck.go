package crashcheck

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubhq/hub/store"
)

// Window returns the texts of the calls of bot that the dead hub at dbPath
// had written to the platform (delivered says the platform has a call with
// that text) but not journaled: the calls the restart will make again. It
// reads a copy of the files, so the hub's own restart replays the journal.
func Window(t testing.TB, dbPath, platform, bot string, delivered func(text string) bool) map[string]bool {
	t.Helper()
	dir := t.TempDir()
	copyPath := filepath.Join(dir, filepath.Base(dbPath))
	for _, suffix := range []string{"", "-wal", "-shm", store.JournalPath("")} {
		copyFile(t, dbPath+suffix, copyPath+suffix)
	}
	db, err := store.Open(copyPath) // replays the copied journal: W and R are settled
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pending, err := db.OutboxPending(t.Context(), platform, bot, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range pending {
		var call struct{ Text string }
		if err := json.Unmarshal(e.Payload, &call); err != nil {
			t.Fatalf("outbox entry %d: %v", e.ID, err)
		}
		if call.Text != "" && delivered(call.Text) {
			out[call.Text] = true
		}
	}
	return out
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

// maxWindow is how many calls a kill may catch between their last write
// and their W line at once: the threads making calls would all have to be
// preempted right there.
const maxWindow = 2

// Check compares the replies the platform got (count by text) with want:
// every text answered, none more than once unless it is in window. It
// returns a summary for the log.
func Check(t testing.TB, got map[string]int, want []string, window map[string]bool) string {
	t.Helper()
	// The window is two system calls wide: more than a couple of calls
	// caught in it at once means W lines are missing, not unlucky timing.
	if len(window) > maxWindow {
		t.Errorf("%d calls written but not journaled at the kill (at most %d expected): the attempt journal is not recording them", len(window), maxWindow)
	}
	repeated, inWindow := 0, 0
	for _, text := range want {
		switch n := got[text]; {
		case n == 0:
			t.Errorf("%q: never answered", text)
		case n == 2 && window[text]:
			inWindow++
		case n > 1:
			repeated++
			t.Errorf("%q: answered %d times", text, n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d distinct replies, want %d", len(got), len(want))
	}
	return fmt.Sprintf("%d updates answered, %d repeated, %d made again because the kill fell between the request's last write and its journal line", len(got), repeated, inWindow)
}

// InDoubt reads the dead hub's attempt journal: how many calls it left
// written but unanswered (W last), which the restart marks sent rather
// than make again. No journal means none.
func InDoubt(t testing.TB, dbPath string) int {
	t.Helper()
	data, err := os.ReadFile(store.JournalPath(dbPath))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 {
			last[f[1]] = f[0]
		}
	}
	n := 0
	for _, kind := range last {
		if kind == "W" {
			n++
		}
	}
	return n
}
