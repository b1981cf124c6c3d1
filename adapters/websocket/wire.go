package websocket

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	gorilla "github.com/gorilla/websocket"
)

// wire is a socket's network connection, as the adapter and gorilla both
// write to it. Frames go out whole and in turn: mu is held from a frame's
// first byte to its last, and nothing goes out after a close frame.
//
// The adapter writes its own frames (server frames are unmasked, so a frame
// is a header and the payload), which lets a sender write straight to the
// socket when nothing is queued: one write(2) that never waits, from the
// sender's goroutine. What the socket does not take at once is finished by
// a flusher goroutine, which inherits mu, so that gorilla cannot slip a
// frame of its own (a pong, the answer to a client's close, a 1002 or 1009
// close) into the middle of one of ours: gorilla writes through Write,
// which waits for mu.
type wire struct {
	net.Conn                 // the hijacked connection
	rc       syscall.RawConn // nil where there is no descriptor (TLS): no direct writes, no parking

	mu     sync.Mutex
	closed bool      // a close frame went out: nothing may follow (guarded by mu)
	broken bool      // a write failed halfway: the stream is corrupt (guarded by mu)
	gd     time.Time // gorilla's write deadline, applied to gorilla's own writes (guarded by gorilla's write lock)
}

// errBroken fails the writes after one that failed halfway.
var errBroken = errors.New("websocket: an earlier write failed halfway")

func newWire(nc net.Conn) *wire {
	w := &wire{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			w.rc = rc
		}
	}
	return w
}

// SetWriteDeadline records the deadline gorilla gives its next write; Write
// applies it, once it holds mu, so that it cannot cut short a frame of the
// adapter's that is still being written.
func (w *wire) SetWriteDeadline(t time.Time) error {
	w.gd = t
	return nil
}

// Write is gorilla's way to the network: the upgrade's response, and the
// control frames it writes by itself.
func (w *wire) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(p, w.gd)
}

// write writes one whole frame of the adapter's, waiting for its turn and
// for the client, up to deadline.
func (w *wire) write(frame []byte, deadline time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.writeLocked(frame, deadline)
	return err
}

// finish writes the rest of a frame whose start went out without waiting;
// the caller holds mu, which finish releases.
func (w *wire) finish(rest []byte, deadline time.Time) error {
	defer w.mu.Unlock()
	_, err := w.writeLocked(rest, deadline)
	return err
}

// writeLocked writes p with a deadline that it clears afterwards, so that
// an expired one cannot fail a later tryWrite.
func (w *wire) writeLocked(p []byte, deadline time.Time) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	if len(p) > 0 && p[0] == finalBit|gorilla.CloseMessage {
		w.closed = true
	}
	if !deadline.IsZero() {
		_ = w.Conn.SetWriteDeadline(deadline)
		defer func() { _ = w.Conn.SetWriteDeadline(time.Time{}) }()
	}
	n, err := w.Conn.Write(p)
	w.broken = w.broken || err != nil && n > 0
	return n, err
}

func (w *wire) usable() error {
	switch {
	case w.broken:
		return errBroken
	case w.closed:
		return gorilla.ErrCloseSent
	}
	return nil
}

// tryWrite writes what the socket takes at once, without waiting for room.
// The caller holds mu, and hands what is left to a writer that may wait.
func (w *wire) tryWrite(frame []byte) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	var n int
	var werr error
	err := w.rc.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), frame)
		return true // one attempt: never wait in the netpoller
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil // a deadline left over: the flusher's write will set its own
	case err != nil:
		return 0, err
	case errors.Is(werr, syscall.EAGAIN), errors.Is(werr, syscall.EINTR):
		return 0, nil
	case werr != nil:
		return 0, &net.OpError{Op: "write", Net: "tcp", Addr: w.RemoteAddr(), Err: os.NewSyscallError("write", werr)}
	}
	return n, nil
}

// Frame bits (RFC 6455 §5.2).
const (
	finalBit = 0x80
	maskBit  = 0x80
)

// pingFrame is the server's ping, with no payload.
var pingFrame = []byte{finalBit | gorilla.PingMessage, 0}

// buffers pools byte buffers: frames on their way out, and messages being
// read. Big ones are left to the collector.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooled = 64 << 10

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if b != nil && cap(*b) <= maxPooled {
		*b = (*b)[:0]
		buffers.Put(b)
	}
}

// newFrame builds a final data frame in a pooled buffer, with text as its
// payload, or data if it is not nil.
func newFrame(op byte, text string, data []byte) *[]byte {
	n := len(text)
	if data != nil {
		n = len(data)
	}
	b := getBuffer()
	f := append((*b)[:0], finalBit|op)
	switch {
	case n <= 125:
		f = append(f, byte(n))
	case n <= 0xffff:
		f = append(f, 126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	if data != nil {
		f = append(f, data...)
	} else {
		f = append(f, text...)
	}
	*b = f
	return b
}

// closeFrame is a close frame with code and reason (at most 123 bytes).
func closeFrame(code int, reason string) []byte {
	payload := gorilla.FormatCloseMessage(code, reason)
	return append([]byte{finalBit | gorilla.CloseMessage, byte(len(payload))}, payload...)
}

// readAll reads a message into b's spare room, growing it as needed.
func readAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// A running reader reads through a 4-KiB buffer, as gorilla's own default:
// a typical message then arrives in one read(2). A parked socket gives its
// buffer back, so an idle socket holds none. gorilla keeps the
// *bufio.Reader it was handed at the upgrade, so the buffer is swapped
// inside that value.
const readBufferSize = 4 << 10

var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// attachBuffer gives br a pooled buffer reading from src.
func attachBuffer(br *bufio.Reader, src io.Reader) {
	*br = *readBuffers.Get().(*bufio.Reader)
	br.Reset(src)
}

// detachBuffer takes an empty br's buffer back to the pool; br must not be
// read until attachBuffer gives it one again.
func detachBuffer(br *bufio.Reader) {
	if br.Size() == 0 {
		return
	}
	held := new(bufio.Reader)
	*held = *br
	held.Reset(nil)
	*br = bufio.Reader{}
	readBuffers.Put(held)
}
