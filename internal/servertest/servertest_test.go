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
