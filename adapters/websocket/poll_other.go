//go:build !linux

package websocket

import "errors"

// poller is Linux-only (epoll); elsewhere an idle socket keeps its reader
// goroutine, waiting in bufio with a small stack.
type poller struct{}

func newPoller() (*poller, error)  { return nil, errors.ErrUnsupported }
func (*poller) park(c *conn) error { return errors.ErrUnsupported }
func (*poller) forget(c *conn)     {}
func (*poller) stop()              {}

func readable(c *conn) bool { return false }
