package crashcheck

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/internal/witness"
	"github.com/hubhq/hub/store"
)

// InFlight is what a dead hub's attempt journal says of the calls it left
// unanswered, by how the next start settles them.
type InFlight struct {
	Written int // W last: sent, answer lost
	Caught  int // I last: the kill fell between the request's last write and W, or just before it
	Whole   int // of Caught, those the witness counted whole: sent
	Counted int // connections the witness reported
}

func (f InFlight) String() string {
	return fmt.Sprintf("%d calls written, unanswered; %d caught at their last write, of which the witness counted %d sent (%d connections counted)",
		f.Written, f.Caught, f.Whole, f.Counted)
}

// Read reads the attempt journal of the dead hub at dbPath, once its
// witness has written its lines.
func Read(t testing.TB, dbPath string) InFlight {
	t.Helper()
	path := store.JournalPath(dbPath)
	if !witness.Wait(path, 10*time.Second) {
		t.Fatal("the dead hub's witness did not finish within 10 s")
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return InFlight{}
	}
	if err != nil {
		t.Fatal(err)
	}
	type intent struct {
		conn string
		end  int64
	}
	last := map[string]string{}
	intents := map[string]intent{}
	counts := map[string]int64{}
	for line := range strings.Lines(string(data)) {
		text := strings.TrimSuffix(line, "\n")
		if conn, n, ok := witness.ParseLine(text); ok {
			counts[conn] = n
			continue
		}
		f := strings.Fields(text)
		if len(f) < 2 {
			continue
		}
		last[f[1]] = f[0]
		if f[0] == "I" && len(f) == 4 {
			var end int64
			fmt.Sscan(f[3], &end) //nolint:errcheck // a torn line counts as 0: not whole
			intents[f[1]] = intent{f[2], end}
		}
	}
	out := InFlight{Counted: len(counts)}
	for id, kind := range last {
		switch kind {
		case "W":
			out.Written++
		case "I":
			out.Caught++
			if in := intents[id]; counts[in.conn] >= in.end && in.end > 0 {
				out.Whole++
			}
		}
	}
	return out
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
