package bench

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
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
