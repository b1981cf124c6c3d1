package nats

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// server is a nats-server -js of the test's own, on a free port in a temp
// directory, that a fault test can stop and start again on the same port.
type server struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

const natsBinary = "/usr/sbin/nats-server"

// patience bounds every wait for something that must happen.
const patience = 10 * time.Second

func startServer(t *testing.T) *server {
	t.Helper()
	if _, err := os.Stat(natsBinary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("nats-server missing: %v", err)
		}
		t.Skipf("nats-server missing: %v", err)
	}
	s := &server{t: t, port: freePort(t), dir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command(natsBinary, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start nats-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.ready() {
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server on port %d did not greet", s.port)
		}
		<-time.After(20 * time.Millisecond)
	}
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// ready reports whether the server sends its INFO greeting.
func (s *server) ready() bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "INFO ")
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
