package servertest

import (
	"net"
	"testing"
	"time"
)

// TestRestart starts each server, stops it, and starts it again on the
// same port, as the fault tests do.
func TestRestart(t *testing.T) {
	for name, spec := range map[string]Spec{
		"redis":     Redis(),
		"nats":      NATS("-js"),
		"mosquitto": Mosquitto("persistence true"),
	} {
		t.Run(name, func(t *testing.T) {
			s := Start(t, spec)
			s.Stop()
			if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
				c.Close()
				t.Fatal("still listening after Stop")
			}
			s.Start()
			s.Stop()
			s.Stop() // stopping a stopped server does nothing
		})
	}
}

// outcome records what Need made of a test instead of ending it.
type outcome struct {
	testing.TB
	failed, skipped bool
}

func (o *outcome) Helper()               { o.TB.Helper() }
func (o *outcome) Fatalf(string, ...any) { o.failed = true }
func (o *outcome) Skipf(string, ...any)  { o.skipped = true }

// TestNeed: a missing program skips a test, but fails it in CI.
func TestNeed(t *testing.T) {
	for _, tc := range []struct {
		ci            string
		failed, skips bool
	}{{"", false, true}, {"true", true, false}} {
		t.Setenv("CI", tc.ci)
		o := &outcome{TB: t}
		Need(o, "/nonexistent/redis-server")
		if o.failed != tc.failed || o.skipped != tc.skips {
			t.Errorf("CI=%q: failed %v, skipped %v; want %v, %v", tc.ci, o.failed, o.skipped, tc.failed, tc.skips)
		}
	}
	if o := (&outcome{TB: t}); Need(o, "go") == "" || o.failed || o.skipped {
		t.Error("Need did not find go in PATH")
	}
}
