//go:build !linux

package witness

import (
	"errors"
	"syscall"
	"time"
)

// Witness is not available here: Start always fails.
type Witness struct{}

// Start returns errors.ErrUnsupported: the kernel counts the witness reads
// (TCP_INFO, SIOCOUTQ) are Linux's.
func Start(string) (*Witness, error) { return nil, errors.ErrUnsupported }

func (*Witness) Keep(syscall.RawConn) (string, error) { return "", errors.ErrUnsupported }
func (*Witness) Drop(string) error                    { return nil }
func (*Witness) Close() error                         { return nil }
func (*Witness) Alive() bool                          { return false }
func (*Witness) Pid() int                             { return 0 }

// Check says the witness is not available here.
func Check() error { return errors.ErrUnsupported }

// Written is not available here.
func Written(syscall.RawConn) (int64, error) { return 0, errors.ErrUnsupported }

// Wait has no witness to wait for.
func Wait(string, time.Duration) bool { return true }
