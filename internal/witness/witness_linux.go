package witness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// envJournal, set, makes this process a witness for that journal.
const envJournal = "HUB_WITNESS_JOURNAL"

// ctlFD is the witness's end of its control socket (the first ExtraFile).
const ctlFD = 3

func init() {
	if path, ok := os.LookupEnv(envJournal); ok {
		os.Exit(serve(path))
	}
}

// Witness is the hub's side of a running witness: it hands sockets over.
// Safe for concurrent use.
type Witness struct {
	mu     sync.RWMutex
	fd     int // the control socket; -1 once closed
	pid    int
	prefix string
	seq    atomic.Int64
	exited chan struct{}
}

// Start runs a witness for the journal at journalPath and returns once it
// holds its lock, ready to take sockets.
func Start(journalPath string) (*Witness, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	// SEQPACKET keeps each message (and the socket it carries) whole.
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	child := os.NewFile(uintptr(fds[1]), "witness")
	cmd := exec.Command(exe)
	cmd.Args = []string{filepath.Base(exe) + "-witness", journalPath} // what ps shows; the witness reads its environment
	// Only its journal: the hub's environment (tokens) is none of its
	// business. A race-detector build would sleep a second at exit.
	cmd.Env = []string{envJournal + "=" + journalPath, "GORACE=atexit_sleep_ms=0"}
	cmd.ExtraFiles = []*os.File{child}
	cmd.Stderr = os.Stderr
	// Its own process group: a signal meant for the hub's group (a
	// terminal's ^C) must not take the witness with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	child.Close()
	if err != nil {
		syscall.Close(fds[0])
		return nil, fmt.Errorf("witness: %w", err)
	}
	w := &Witness{fd: fds[0], pid: cmd.Process.Pid, prefix: strconv.Itoa(os.Getpid()), exited: make(chan struct{})}
	go func() {
		cmd.Wait() //nolint:errcheck // its exit status says nothing the lines do not
		close(w.exited)
	}()
	if err := w.ready(); err != nil {
		cmd.Process.Kill() //nolint:errcheck
		w.Close()
		return nil, fmt.Errorf("witness: not ready: %w", err)
	}
	return w, nil
}

// ready waits for the witness's first message: it holds its lock.
func (w *Witness) ready() error {
	tv := syscall.Timeval{Sec: 10}
	if err := syscall.SetsockoptTimeval(w.fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	buf := make([]byte, 16)
	n, err := syscall.Read(w.fd, buf)
	if err == nil && string(buf[:max(n, 0)]) != "ready" {
		err = errors.New("no answer")
	}
	if err != nil {
		return err
	}
	// A witness that stops reading (stopped, stuck) must fail the hub's
	// sends, not hold the connection being dialled.
	tv = syscall.Timeval{Sec: 5}
	return syscall.SetsockoptTimeval(w.fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
}

// Check starts a witness and ends it: whether one can run here.
func Check() error {
	dir, err := os.MkdirTemp("", "hub-witness-check")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	w, err := Start(filepath.Join(dir, "calls"))
	if err != nil {
		return err
	}
	return w.Close()
}

// Alive says whether the witness process is still running.
func (w *Witness) Alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// Pid is the witness process's id.
func (w *Witness) Pid() int { return w.pid }

// Keep hands the witness a copy of conn's socket and returns the name the
// witness reports it under.
func (w *Witness) Keep(conn syscall.RawConn) (string, error) {
	key := w.prefix + "." + strconv.FormatInt(w.seq.Add(1), 10)
	var err error
	cerr := conn.Control(func(fd uintptr) {
		err = w.send("K "+key, syscall.UnixRights(int(fd)))
	})
	if err = errors.Join(cerr, err); err != nil {
		return "", fmt.Errorf("witness: %w", err)
	}
	return key, nil
}

// Drop tells the witness to let go of key's socket: the hub is closing it,
// and the peer must see it close.
func (w *Witness) Drop(key string) error { return w.send("D "+key, nil) }

func (w *Witness) send(msg string, oob []byte) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.fd < 0 {
		return os.ErrClosed
	}
	return syscall.Sendmsg(w.fd, []byte(msg), oob, nil, syscall.MSG_NOSIGNAL)
}

// Close ends the witness as a clean exit of the hub would, and waits for
// it: it writes the lines of the sockets it still holds and exits.
func (w *Witness) Close() error {
	w.mu.Lock()
	if w.fd >= 0 {
		syscall.Close(w.fd)
		w.fd = -1
	}
	w.mu.Unlock()
	select {
	case <-w.exited:
		return nil
	case <-time.After(drainFor + 5*time.Second):
		return errors.New("witness: still running")
	}
}

// Written is how many bytes the local side has written to conn's TCP
// socket since it opened it (plus one for its SYN), sent or not: what the
// witness reports.
func Written(conn syscall.RawConn) (int64, error) {
	var n int64
	var err error
	cerr := conn.Control(func(fd uintptr) { n, err = written(int(fd)) })
	return n, errors.Join(cerr, err)
}

// written is the kernel's count: the bytes acknowledged by the peer (the
// SYN counts one) plus those still queued, unsent or unacknowledged.
func written(fd int) (int64, error) {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0, err
	}
	queued, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	if err != nil {
		return 0, err
	}
	return int64(info.Bytes_acked) + int64(queued), nil
}

// Wait blocks until no witness of the journal at journalPath is alive —
// the one of a hub that just died writes its lines first — or timeout.
// It reports whether none was left alive.
func Wait(journalPath string, timeout time.Duration) bool {
	f, err := os.Open(LockPath(journalPath))
	if errors.Is(err, os.ErrNotExist) {
		return true // no witness ever ran here
	}
	if err != nil {
		return false
	}
	defer f.Close() // releases the lock, if taken
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return true
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond) // flock has no timeout; a witness writes its lines in microseconds
	}
}

// drainFor bounds how long a witness waits, after writing its lines, for
// its sockets to deliver what is queued on them: closing a socket with
// unread input resets it and drops what is still queued.
const drainFor = 10 * time.Second

// serve is the witness process: it holds the hub's sockets until the
// control socket closes (the hub exited or died), then appends a line per
// socket to the journal and exits.
func serve(journal string) int {
	// The hub's signals are not its own: it ends when the hub does.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	lock, err := os.OpenFile(LockPath(journal), os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "witness:", err)
		return 1
	}
	if _, err := syscall.Write(ctlFD, []byte("ready")); err != nil {
		fmt.Fprintf(os.Stderr, "witness: %s is set, but this process was not started by a hub: %v\n", envJournal, err)
		return 1
	}
	held := receive()
	var lines strings.Builder
	for key, fd := range held {
		if n, err := written(fd); err == nil {
			lines.WriteString(Line(key, n))
		}
	}
	if err := appendTo(journal, lines.String()); err != nil {
		fmt.Fprintln(os.Stderr, "witness:", err)
	}
	lock.Close() // the next start may read the journal now
	drain(held)
	return 0
}

// receive takes sockets from the hub until it goes away, and returns
// those it did not drop.
func receive() map[string]int {
	held := map[string]int{}
	buf := make([]byte, 256)
	oob := make([]byte, syscall.CmsgSpace(4))
	for {
		n, oobn, _, _, err := syscall.Recvmsg(ctlFD, buf, oob, 0)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return held
		}
		fds := rights(oob[:oobn])
		kind, key, _ := strings.Cut(string(buf[:n]), " ")
		switch {
		case kind == "K" && len(fds) == 1:
			if old, ok := held[key]; ok {
				syscall.Close(old)
			}
			held[key] = fds[0]
			continue
		case kind == "D":
			if fd, ok := held[key]; ok {
				syscall.Close(fd)
				delete(held, key)
			}
		}
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}
}

func rights(oob []byte) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		if got, err := syscall.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

// appendTo appends lines to the journal in one write, if it exists: no
// journal means the hub made no journaled call.
func appendTo(journal, lines string) error {
	if lines == "" {
		return nil
	}
	f, err := os.OpenFile(journal, os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = f.WriteString(lines)
	return errors.Join(err, f.Close())
}

// drain waits until the sockets' queues are empty, or drainFor.
func drain(held map[string]int) {
	deadline := time.Now().Add(drainFor)
	for time.Now().Before(deadline) {
		busy := false
		for _, fd := range held {
			if q, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ); err == nil && q > 0 {
				busy = true
			}
		}
		if !busy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
