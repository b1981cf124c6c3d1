//go:build !unix

package store

import (
	"errors"
	"os"
	"syscall"
)

// rawWrites says OutboxWrite cannot make its two writes back to back.
const rawWrites = false

// tryLock always succeeds where flock(2) is missing: two processes sending
// from one database may then disturb each other's journal.
func tryLock(*os.File) (bool, error) { return true, nil }

// appendLine appends line to f.
func appendLine(f *os.File, line string) (int, error) { return f.WriteString(line) }

func writeThenAppend(syscall.RawConn, []byte, *os.File, []byte) (int, error, error) {
	return 0, errors.ErrUnsupported, nil
}
