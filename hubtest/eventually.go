package hubtest

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, failing the test with what after
// DefaultTimeout. Use it for effects that complete just after the event a
// test can wait on, such as a layer channel freed once its reader returns.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(DefaultTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("hubtest: %s: still not true after %v", what, DefaultTimeout)
		}
		<-tick.C
	}
}
