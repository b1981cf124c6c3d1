package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/server"
)

// NewHub builds a hub the way `hub run` does, from configYAML with its one
// %s standing for the store path: a fresh SQLite file in a temporary
// directory under dir ("" for the system's). The hub is listening when it
// returns; remove deletes the directory once the hub has stopped.
func NewHub(name, dir, configYAML string) (s *server.Server, remove func(), err error) {
	tmp, err := os.MkdirTemp(dir, name+"-")
	if err != nil {
		return nil, nil, err
	}
	remove = func() { os.RemoveAll(tmp) }
	cfg, err := config.Parse(name, fmt.Appendf(nil, configYAML, filepath.Join(tmp, "hub.db")))
	if err == nil {
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		slog.SetDefault(logger)
		if s, err = server.New(cfg, logger); err == nil {
			err = s.Listen()
		}
	}
	if err != nil {
		remove()
		return nil, nil, err
	}
	return s, remove, nil
}

// CPUTime is a process's user+system CPU time, read from /proc (Linux, 100
// ticks per second); -1 if unknown.
func CPUTime(pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100)
}

// RaiseNoFile lifts the soft limit on open files to the hard limit: 10,000
// sockets need 10,000 descriptors on each side.
func RaiseNoFile() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	l.Cur = l.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

// Child is a server a load generator runs in a process of its own, so that
// the generator's memory and GC never count against it: this executable run
// again with args, which prints "ready <fields…>" once it listens and stops
// when its stdin closes.
type Child struct {
	Cmd   *exec.Cmd
	Ready []string // the fields after "ready": addresses the child listens on
	stdin io.Closer
}

// StartChild runs this executable with args and waits for its ready line,
// which must have fields fields after "ready".
func StartChild(fields int, args ...string) (*Child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &Child{Cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != fields+1 || f[0] != "ready" {
		c.Stop()
		return nil, fmt.Errorf("%s: %q, %v", strings.Join(args, " "), line, err)
	}
	c.Ready = f[1:]
	return c, nil
}

// Stop closes the child's stdin, which shuts it down, and waits (bounded).
func (c *Child) Stop() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.Cmd.Process.Kill()
		<-done
	}
}

// Pid is the child's process id, for CPUTime.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }
