//go:build !linux

package outbox

import "net"

// cork does nothing where TCP_CORK is missing (see cork_linux.go).
func cork(net.Conn, bool) {}
