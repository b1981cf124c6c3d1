package redis

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/hubhq/hub/core/layer/internal/servertest"
)

// server is a redis-server of the test's own (package servertest), that a
// fault test can Stop and Start again on the same port.
type server struct{ *servertest.Server }

// patience bounds every wait for something that must happen.
const patience = servertest.Patience

var redisServer = servertest.Spec{
	Binary: "/usr/bin/redis-server",
	Args: func(port int, dir string) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no"}
	},
	// Ready when the server answers PING.
	Ready: func(c net.Conn, r *bufio.Reader) bool {
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		line, err := r.ReadString('\n')
		return err == nil && line == "+PONG\r\n"
	},
}

func startServer(t *testing.T) *server {
	t.Helper()
	return &server{servertest.Start(t, redisServer)}
}

func (s *server) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.Port) }
