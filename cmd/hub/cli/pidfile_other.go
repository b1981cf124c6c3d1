//go:build !unix

package cli

import (
	"errors"
	"os"
)

// lockFile cannot lock without flock(2): it always succeeds, so a pid file
// is never taken for another hub's.
func lockFile(*os.File) (bool, error) { return true, nil }

// lockHeld cannot tell a stale pid file from a live one: it trusts it.
func lockHeld(*os.File) (bool, error) { return true, nil }

func signalReload(int) error {
	return errors.New("hub reload sends SIGHUP, which this system does not have: restart the hub instead")
}
