package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hubBin is the hub binary that TestMain builds, and plusBin the same with
// the tests' own plugins (testdata/hubplus).
var hubBin, plusBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hub-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	hubBin, plusBin = filepath.Join(dir, "hub"), filepath.Join(dir, "hubplus")
	build := exec.Command("go", "build", "-tags", "libsqlite3", "-o", dir+string(filepath.Separator),
		"github.com/hubhq/hub/cmd/hub", "github.com/hubhq/hub/e2e/testdata/hubplus")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the hub binary:", err)
		return 1
	}
	return m.Run()
}

// startTimeout bounds how long a hub may take to log that it listens, and
// stopTimeout how long it may take to exit after SIGTERM.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// hub is one running hub process.
type hub struct {
	t    *testing.T
	cmd  *exec.Cmd
	Addr string // host:port it listens on, parsed from its log

	mu   sync.Mutex
	logs strings.Builder

	exited chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, valid once exited is closed
}

// Log lines that say a process is ready: a hub's address, a worker's start.
var (
	listeningRE   = regexp.MustCompile(`msg=listening addr=(\S+)`)
	workerReadyRE = regexp.MustCompile(`msg="worker ready"`)
)

// startHub runs `hub run --config path` and waits until it logs its
// address. The process is killed at the end of the test if still running.
func startHub(t *testing.T, path string) *hub {
	t.Helper()
	return startProcess(t, hubBin, path, listeningRE, "run")
}

// startProcess runs `bin args… --config path` in the config's folder and
// waits until a log line matches ready; the line's first submatch, if any,
// is the Addr.
func startProcess(t *testing.T, bin, path string, ready *regexp.Regexp, args ...string) *hub {
	t.Helper()
	h := &hub{t: t, exited: make(chan struct{})}
	h.cmd = exec.Command(bin, append(args, "--config", path)...)
	h.cmd.Dir = filepath.Dir(path)
	h.cmd.Stdout = logWriter{h} // kept with the log, so tests can search both
	stderr, err := h.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go h.readLogs(stderr, ready, addr)
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		<-h.exited
		if t.Failed() {
			t.Logf("hub log:\n%s", h.Logs())
		}
	})
	select {
	case h.Addr = <-addr:
		return h
	case <-h.exited:
		t.Fatalf("hub exited before listening: %v\n%s", h.err, h.Logs())
	case <-time.After(startTimeout):
		t.Fatalf("%s did not log %q within %v:\n%s", filepath.Base(bin), ready, startTimeout, h.Logs())
	}
	return nil
}

// readLogs keeps the hub's stderr, reports readiness (with the address)
// once, and reaps the process when its output ends.
func (h *hub) readLogs(r io.Reader, ready *regexp.Regexp, addr chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		h.mu.Lock()
		h.logs.WriteString(line + "\n")
		h.mu.Unlock()
		if m := ready.FindStringSubmatch(line); m != nil {
			select {
			case addr <- append(m, "")[1]:
			default:
			}
		}
	}
	io.Copy(io.Discard, r)
	h.err = h.cmd.Wait()
	close(h.exited)
}

// logWriter appends a process' stdout to its logs.
type logWriter struct{ h *hub }

func (w logWriter) Write(p []byte) (int, error) {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	return w.h.logs.Write(p)
}

// Logs is what the hub has written to stderr (and stdout) so far.
func (h *hub) Logs() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.String()
}

// Stop sends SIGTERM and returns the exit code.
func (h *hub) Stop() int {
	h.t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		h.t.Fatalf("SIGTERM: %v", err)
	}
	return h.wait()
}

func (h *hub) wait() int {
	h.t.Helper()
	select {
	case <-h.exited:
	case <-time.After(stopTimeout):
		h.t.Fatalf("hub still running %v after SIGTERM:\n%s", stopTimeout, h.Logs())
	}
	var exit *exec.ExitError
	if errors.As(h.err, &exit) {
		return exit.ExitCode()
	}
	if h.err != nil {
		h.t.Fatalf("hub: %v", h.err)
	}
	return 0
}

// writeConfig writes a config into a fresh directory and returns its path.
func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// chatConfig is the chat room (page and sockets) on a free port with its
// store in dir, on the memory layer.
func chatConfig(t *testing.T, dir string) string { return layerChatConfig(t, dir, "memory") }

// layerChatConfig is chatConfig on the given channel layer.
func layerChatConfig(t *testing.T, dir, layer string) string {
	return writeConfig(t, dir, `
listen: 127.0.0.1:0
store: ./hub.db
layer: `+layer+`
log: {level: info, format: text}
routes:
  websocket:
    - path: /ws/chat/{room}/
      consumer: chatroom
  http:
    - path: /
      handler: chatroom
`)
}

// runHub runs the binary with args to completion.
func runHub(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runBin(t, hubBin, dir, args...)
}

// runBin runs bin with args to completion.
func runBin(t *testing.T, bin, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("hub %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}
