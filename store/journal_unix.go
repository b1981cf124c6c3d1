//go:build unix

package store

import (
	"errors"
	"io"
	"os"
	"syscall"
	"unsafe"
)

// rawWrites says OutboxWrite can make its two writes back to back.
const rawWrites = true

// tryLock takes an exclusive lock on f without waiting; false means another
// process holds it. The lock goes with the process: a crash releases it.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// appendLine appends line with one write(2) on f's descriptor, bypassing
// the lock os.File takes around writes: appends to an O_APPEND file need
// none, and waiting there would delay the line.
func appendLine(f *os.File, line string) (int, error) {
	return syscall.Write(int(f.Fd()), []byte(line))
}

// writeThenAppend writes p to conn, then line to the journal f (if not
// nil), with raw write(2)s: between the last byte of p leaving and line
// going in there is no function call the scheduler or a garbage collection
// could stop the goroutine at, and no syscall exit that could hand its
// thread away. Only the kernel can still preempt the thread there.
func writeThenAppend(conn syscall.RawConn, p []byte, f *os.File, line []byte) (n int, err, journalErr error) {
	jfd := -1
	if f != nil && len(line) > 0 {
		jfd = int(f.Fd())
	}
	var werr error
	err = conn.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
			switch e {
			case 0:
				n += int(m)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait until the socket takes more
			default:
				werr = e
				return true
			}
		}
		if jfd >= 0 {
			m, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(jfd), uintptr(unsafe.Pointer(&line[0])), uintptr(len(line)))
			if e != 0 {
				journalErr = e
			} else if int(m) < len(line) {
				journalErr = io.ErrShortWrite
			}
		}
		return true
	})
	if werr != nil {
		err = werr
	}
	return n, err, journalErr
}
