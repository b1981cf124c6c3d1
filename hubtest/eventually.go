package hubtest

import (
	"testing"

	"github.com/hubhq/hub/internal/poll"
)

// Eventually polls cond until it holds, failing the test with what after
// DefaultTimeout. Use it for effects that complete just after the event a
// test can wait on, such as a layer channel freed once its reader returns.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !poll.Wait(DefaultTimeout, cond) {
		t.Fatalf("hubtest: %s: still not true after %v", what, DefaultTimeout)
	}
}
