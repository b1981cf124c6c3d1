package websocket

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// poller parks idle sockets in one epoll set, so that an idle socket has no
// goroutine at all: when a socket's read buffer is empty its reader
// registers the socket for one readability event (EPOLLONESHOT) and exits;
// the poller's single goroutine starts a new reader when the client sends
// something. Go's own netpoller keeps watching the same descriptor; an fd
// may sit in several epoll sets.
type poller struct {
	epfd int
	wake [2]int // a pipe: stop writes to it to end the loop

	mu      sync.Mutex
	conns   map[int32]*conn // parked sockets by poll id
	next    int32
	stopped bool
	done    chan struct{}
}

// wakeID marks the stop pipe's events; sockets get ids from 1.
const wakeID = 0

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("websocket: epoll: %w", err)
	}
	p := &poller{epfd: epfd, conns: make(map[int32]*conn), done: make(chan struct{})}
	if err := syscall.Pipe2(p.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("websocket: epoll pipe: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeID}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil, fmt.Errorf("websocket: epoll pipe: %w", err)
	}
	go p.run()
	return p, nil
}

func (p *poller) closeFDs() {
	syscall.Close(p.wake[0])
	syscall.Close(p.wake[1])
	syscall.Close(p.epfd)
}

var errPollerStopped = errors.New("websocket: poller stopped")

// park registers c's socket for its next readability event. The caller has
// marked c parked; on an error nothing was registered.
func (p *poller) park(c *conn) error {
	rc := c.w.rc
	if rc == nil {
		return errors.ErrUnsupported // TLS and other wrapped connections buffer on their own
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return errPollerStopped
	}
	op := syscall.EPOLL_CTL_MOD
	if c.pollID == 0 {
		p.next++
		if p.next <= wakeID {
			p.next = wakeID + 1
		}
		c.pollID, op = p.next, syscall.EPOLL_CTL_ADD
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: c.pollID}
	var ctlErr error
	// Control keeps the descriptor from being closed while epoll_ctl uses it.
	if err := rc.Control(func(fd uintptr) { ctlErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev) }); err != nil {
		return err
	}
	if ctlErr != nil {
		return fmt.Errorf("websocket: epoll_ctl: %w", ctlErr)
	}
	p.conns[c.pollID] = c
	return nil
}

// readable reports whether a parked socket has something to read that the
// poller may not have handed on yet (a wake-up can lag behind a busy
// scheduler): then it is not silent, whatever its last pong says.
func readable(c *conn) bool {
	if c.w.rc == nil {
		return false
	}
	ready := false
	_ = c.w.rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ready = n > 0 || err == nil // data, or the client's FIN
	})
	return ready
}

// forget removes a parked socket that is being dropped, before its
// descriptor is closed.
func (p *poller) forget(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c.pollID)
	if c.w.rc != nil && !p.stopped {
		_ = c.w.rc.Control(func(fd uintptr) { _ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil) })
	}
}

// run is the poller's goroutine; stop ends it.
func (p *poller) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			p.release()
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == wakeID {
				p.release()
				return
			}
			p.mu.Lock()
			c := p.conns[ev.Fd]
			delete(p.conns, ev.Fd)
			p.mu.Unlock()
			if c != nil {
				c.wake()
			}
		}
	}
}

// release marks the poller stopped and wakes every parked socket: its
// reader then waits the ordinary way.
func (p *poller) release() {
	p.mu.Lock()
	p.stopped = true
	parked := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range parked {
		c.wake()
	}
}

// stop ends the poller's goroutine, waits for it and closes the
// descriptors. Call it once.
func (p *poller) stop() {
	_, _ = syscall.Write(p.wake[1], []byte{1})
	<-p.done
	p.closeFDs()
}
