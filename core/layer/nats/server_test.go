package nats

import (
	"fmt"
	"testing"

	"github.com/hubhq/hub/internal/servertest"
)

// server is a nats-server -js of the test's own (package servertest), that
// a fault test can Stop and Start again on the same port.
type server struct{ *servertest.Server }

// patience bounds every wait for something that must happen.
const patience = servertest.Patience

func startServer(t *testing.T) *server {
	t.Helper()
	return &server{servertest.Start(t, servertest.NATS("-js"))}
}

func (s *server) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.Port) }
