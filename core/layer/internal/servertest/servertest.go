// Package servertest runs a real server (redis-server, nats-server) of a
// test's own, on a free port in a temp directory, that a fault test can stop
// and start again on the same port. The backends' tests share it; each says
// only how its server is started and how it greets. WaitGoroutines is their
// shared check that Close leaves nothing running.
package servertest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// Patience bounds every wait for something that must happen.
const Patience = 10 * time.Second

// Spec says how to run one kind of server.
type Spec struct {
	// Binary is the server's path; without it the test is skipped, or
	// fails in CI (CI=true), where it must be installed.
	Binary string
	// Args are the command-line arguments for a server on port that keeps
	// its files in dir.
	Args func(port int, dir string) []string
	// Ready reports whether the server answers on a fresh connection (with
	// a deadline set) and reader of it.
	Ready func(c net.Conn, r *bufio.Reader) bool
}

// Server is one running (or stopped) server.
type Server struct {
	t    *testing.T
	spec Spec
	Port int
	dir  string
	cmd  *exec.Cmd
}

// Start starts a server for the test and stops it when the test ends.
func Start(t *testing.T, spec Spec) *Server {
	t.Helper()
	if _, err := os.Stat(spec.Binary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: %v", spec.Binary, err)
		}
		t.Skipf("%s missing: %v", spec.Binary, err)
	}
	s := &Server{t: t, spec: spec, Port: FreePort(t), dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server again on its port and waits until it is ready.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.spec.Binary, s.spec.Args(s.Port, s.dir)...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.spec.Binary, err)
	}
	deadline := time.Now().Add(Patience)
	for !s.ready() {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s on port %d not ready", s.spec.Binary, s.Port)
		}
		<-time.After(20 * time.Millisecond)
	}
}

// Stop kills the server; stopping a stopped one does nothing.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

func (s *Server) ready() bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	return s.spec.Ready(c, bufio.NewReader(c))
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitGoroutines polls until the goroutine count is back to base, so a
// fault test proves that Close left nothing running; past Patience it fails
// with every goroutine's stack.
func WaitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		<-time.After(20 * time.Millisecond)
	}
}
