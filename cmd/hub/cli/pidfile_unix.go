//go:build unix

package cli

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f without waiting; false means
// another process holds it. A crash releases it with the process.
func lockFile(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// lockHeld reports whether another process holds f's lock.
func lockHeld(f *os.File) (bool, error) {
	locked, err := lockFile(f)
	return !locked, err
}

// signalReload asks the hub with pid to reload its config.
func signalReload(pid int) error { return syscall.Kill(pid, syscall.SIGHUP) }
