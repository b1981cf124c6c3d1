package servertest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/hubhq/hub/internal/poll"
)

// Patience bounds every wait for something that must happen.
const Patience = 10 * time.Second

// Spec says how to run one kind of server.
type Spec struct {
	// Binary is the server's path; without it the test is skipped, or
	// fails in CI (CI=true), where it must be installed.
	Binary string
	// Config, if set, is the text of a configuration file written to
	// ConfigFile in dir before each start, for a server on port.
	Config func(port int, dir string) string
	// Args are the command-line arguments for a server on port that keeps
	// its files in dir.
	Args func(port int, dir string) []string
	// Ready reports whether the server answers on a fresh connection (with
	// a deadline set) and reader of it; nil: accepting the connection is
	// enough.
	Ready func(c net.Conn, r *bufio.Reader) bool
	// Stop is the signal Stop ends the server with, for one that saves its
	// state on the way out; nil kills it.
	Stop os.Signal
}

// ConfigFile is the name of the file in the server's directory that
// Spec.Config writes.
const ConfigFile = "server.conf"

// logFile, in the server's directory, takes what the server prints; a
// server that does not get ready fails the test with it.
const logFile = "server.log"

// Server is one running (or stopped) server.
type Server struct {
	t    testing.TB
	spec Spec
	// Port is the loopback port the server listens on, the same across
	// restarts.
	Port int
	// Dir is the server's own temp directory: its configuration, log and
	// any state it keeps.
	Dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has exited
}

// Start starts a server for the test and stops it when the test ends.
func Start(t testing.TB, spec Spec) *Server {
	t.Helper()
	Need(t, spec.Binary)
	s := &Server{t: t, spec: spec, Port: FreePort(t), Dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Start starts the server again on its port and waits until it is ready.
func (s *Server) Start() {
	s.t.Helper()
	if s.spec.Config != nil {
		conf := s.spec.Config(s.Port, s.Dir)
		if err := os.WriteFile(filepath.Join(s.Dir, ConfigFile), []byte(conf), 0o600); err != nil {
			s.t.Fatal(err)
		}
	}
	log, err := os.OpenFile(filepath.Join(s.Dir, logFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(s.spec.Binary, s.spec.Args(s.Port, s.Dir)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.spec.Binary, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	exited := false
	ready := poll.Wait(Patience, func() bool {
		select {
		case <-done:
			exited = true
			return true
		default:
			return s.ready()
		}
	})
	switch {
	case exited:
		s.cmd = nil
		s.t.Fatalf("%s exited at start (port %d taken?):\n%s", s.spec.Binary, s.Port, s.log())
	case !ready:
		s.t.Fatalf("%s on port %d not ready within %v:\n%s", s.spec.Binary, s.Port, Patience, s.log())
	}
}

// Stop ends the server (with Spec.Stop, or a kill past Patience) and waits
// until it has exited; stopping a stopped one does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	if s.spec.Stop == nil {
		s.cmd.Process.Kill()
	} else {
		s.cmd.Process.Signal(s.spec.Stop)
	}
	select {
	case <-s.done:
	case <-time.After(Patience):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

func (s *Server) ready() bool {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	if s.spec.Ready == nil {
		return true
	}
	c.SetDeadline(time.Now().Add(time.Second))
	return s.spec.Ready(c, bufio.NewReader(c))
}

func (s *Server) log() string {
	out, _ := os.ReadFile(filepath.Join(s.Dir, logFile))
	return string(out)
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Need returns the path of the program bin (a path, or a name looked up in
// PATH), or skips the test without it (fails it in CI).
func Need(t testing.TB, bin string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		Missing(t, "%s: %v", bin, err)
	}
	return path
}

// Missing skips the test for something it needs that is not installed, or
// fails it in CI (CI=true), where everything must be there.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required in CI: "+format, args...)
	} else {
		t.Skipf("not installed: "+format, args...)
	}
}

// WaitGoroutines polls until the goroutine count is back to base, so a
// fault test proves that Close left nothing running; past Patience it fails
// with every goroutine's stack.
func WaitGoroutines(t testing.TB, base int) {
	t.Helper()
	if !poll.Wait(Patience, func() bool { return runtime.NumGoroutine() <= base }) {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
	}
}
