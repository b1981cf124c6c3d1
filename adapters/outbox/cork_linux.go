package outbox

import (
	"net"
	"syscall"
)

// cork holds (on) or releases a TCP connection's writes in the kernel.
// Held, the request's last bytes do not wake the receiver before W is
// appended: a receiver on the same host (a local Bot API server, a test's
// fake) would otherwise run at once, and could preempt the writer right
// between the write and W — widening the window a crash there needs from
// microseconds to a scheduler's time slice. Should the hub die while they
// are held, the kernel sends them as it closes the socket.
func cork(c net.Conn, on bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	v := 0
	if on {
		v = 1
	}
	raw.Control(func(fd uintptr) { //nolint:errcheck // best effort: uncorked, the window is wider, not open
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, v) //nolint:errcheck
	})
}
