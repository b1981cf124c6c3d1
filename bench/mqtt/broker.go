package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// mosquitto is the bench's own broker on a free loopback port.
type mosquitto struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startMosquitto runs bin with an unbounded queue per client, so the broker
// never drops a message a slow relay has not taken yet: the bench counts
// what the relay moves, not what the broker discards.
//
// With nodelay the broker sets TCP_NODELAY. Without it (mosquitto's
// default) Nagle's algorithm holds a small PUBACK while earlier data is
// unacknowledged, and the peer's delayed ACK makes that up to 40 ms: a relay
// that waits for each QoS 1 acknowledgement, as a hub consumer's Publish
// does, is then bound by it (see README.md).
func startMosquitto(bin, dir string, nodelay bool) (*mosquitto, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"+
		"log_type error\nlog_type warning\n", port)
	if nodelay {
		conf += "set_tcp_nodelay true\n"
	}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		conf += "user root\n" // else it drops to user mosquitto
	}
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	m := &mosquitto{addr: addr, cmd: exec.Command(bin, "-c", path), done: make(chan struct{})}
	var out strings.Builder
	m.cmd.Stdout, m.cmd.Stderr = &out, &out
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { m.cmd.Wait(); close(m.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return m, nil
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("mosquitto exited at start: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, errors.New("mosquitto not listening after 10s")
		}
		time.Sleep(20 * time.Millisecond) // polling a port with a deadline
	}
}

func (m *mosquitto) url() string { return "tcp://" + m.addr }

func (m *mosquitto) stop() {
	m.cmd.Process.Signal(syscall.SIGTERM)
	<-m.done
}
