package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// conns tracks every connection the layer dialed, so Close can break the
// blocking BZPOPMIN reads that go-redis would otherwise sit in until their
// timeout.
type conns struct {
	mu     sync.Mutex
	open   map[*trackedConn]struct{}
	closed bool
}

type trackedConn struct {
	net.Conn
	owner *conns
	once  sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.owner.mu.Lock()
		delete(c.owner.open, c)
		c.owner.mu.Unlock()
	})
	return err
}

// dialer returns a go-redis Dialer that dials addr (with TLS for rediss://)
// and records the connection.
func (cs *conns) dialer(tlsConf *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 5 * time.Minute}
		var (
			c   net.Conn
			err error
		)
		if tlsConf != nil {
			c, err = (&tls.Dialer{NetDialer: &d, Config: tlsConf}).DialContext(ctx, network, addr)
		} else {
			c, err = d.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.closed {
			c.Close()
			return nil, ErrClosed
		}
		tc := &trackedConn{Conn: c, owner: cs}
		cs.open[tc] = struct{}{}
		return tc, nil
	}
}

// closeAll closes every open connection and refuses new ones.
func (cs *conns) closeAll() {
	cs.mu.Lock()
	cs.closed = true
	open := make([]*trackedConn, 0, len(cs.open))
	for c := range cs.open {
		open = append(open, c)
	}
	cs.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
}

// backoff is capped exponential backoff with full jitter, for retrying a
// host that went away.
type backoff struct{ next time.Duration }

const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 2 * time.Second
)

// wait sleeps for the next backoff step or until ctx is done.
func (b *backoff) wait(ctx context.Context) error {
	if b.next < backoffMin {
		b.next = backoffMin
	}
	d := b.next/2 + rand.N(b.next/2+1)
	b.next = min(2*b.next, backoffMax)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *backoff) reset() { b.next = 0 }

// ErrClosed is returned by calls on a closed layer.
var ErrClosed = errors.New("redis: layer closed")
