package poll

import (
	"testing"
	"time"
)

// Wait calls cond until it returns true or within has passed, and reports
// whether it did. The pause between calls starts at a millisecond and
// doubles up to 20ms, so a quick condition is seen at once and a slow one
// (a dial, a process started) is not called in a busy loop.
func Wait(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-time.After(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
	return true
}

// Until calls cond until it returns true, and fails the test with what it
// waited for once within has passed.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Wait(within, cond) {
		t.Fatalf("%s: still not true after %v", what, within)
	}
}
