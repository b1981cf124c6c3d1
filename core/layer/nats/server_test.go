package nats

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/hubhq/hub/core/layer/internal/servertest"
)

// server is a nats-server -js of the test's own (package servertest), that
// a fault test can Stop and Start again on the same port.
type server struct{ *servertest.Server }

// patience bounds every wait for something that must happen.
const patience = servertest.Patience

var natsServer = servertest.Spec{
	Binary: "/usr/sbin/nats-server",
	Args: func(port int, dir string) []string {
		return []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir}
	},
	// Ready when the server sends its INFO greeting.
	Ready: func(_ net.Conn, r *bufio.Reader) bool {
		line, err := r.ReadString('\n')
		return err == nil && strings.HasPrefix(line, "INFO ")
	},
}

func startServer(t *testing.T) *server {
	t.Helper()
	return &server{servertest.Start(t, natsServer)}
}

func (s *server) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.Port) }
