package mqtt

import (
	"testing"

	"github.com/hubhq/hub/internal/servertest"
)

// mosquitto is a real broker of the test's own (package servertest), on a
// free loopback port, with persistence in its directory, that a test can
// Stop and Start again on the same port.
type mosquitto struct{ *servertest.Server }

func startMosquitto(t *testing.T) *mosquitto {
	t.Helper()
	return &mosquitto{servertest.Start(t, servertest.Mosquitto(
		"persistence true", "max_queued_messages 0", "max_inflight_messages 20"))}
}

func (m *mosquitto) URL() string { return "tcp://" + m.Addr() }
