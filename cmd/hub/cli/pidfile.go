package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// The pid file is how `hub reload` finds the hub to signal: `hub run`
// writes its pid to <store>.pid, holds a lock on the file for as long as it
// runs, so that one a crashed hub left behind is known to be stale, and
// removes it when it exits. One store serves one hub, so the store names
// the hub.

func pidPath(store string) string { return store + ".pid" }

// pidFile is the pid file of the running hub.
type pidFile struct{ f *os.File }

// writePIDFile writes this process' pid to the store's pid file and locks
// it. Another hub holding the lock is an error.
func writePIDFile(store string) (*pidFile, error) {
	path := pidPath(store)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	locked, err := lockFile(f)
	if err == nil && !locked {
		err = fmt.Errorf("pid file %s: another hub runs with the store %s", path, store)
	}
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return &pidFile{f}, nil
}

// remove deletes the file, then lets go of its lock.
func (p *pidFile) remove() {
	os.Remove(p.f.Name())
	p.f.Close()
}

// runningHub reads the pid of the hub that runs with store.
func runningHub(store string) (int, error) {
	path := pidPath(store)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("no hub is running with the store %s (no pid file %s)", store, path)
	}
	if err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	defer f.Close()
	if held, err := lockHeld(f); err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	} else if !held {
		return 0, fmt.Errorf("no hub is running with the store %s (%s is left from one that stopped)", store, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: no pid in it (%q)", path, b)
	}
	return pid, nil
}
