// Command layers benchmarks the channel layers (issue "Distributed channel
// layer"):
//
//	go run ./bench/layers p2   # group fan-out 1 → 1,000 WebSocket members: memory, Redis, NATS
//	go run ./bench/layers p6   # Redis GroupSend: the hub's layer against channels_redis
//
// Both start their own redis-server and nats-server on free loopback ports
// and stop them at the end. P2 runs each hub as a child process (this binary
// again, "layers serve"), as bench/cmd/wsload does, so the load generator's
// 1,000 sockets never count against the server. See README.md.
package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: layers p2|p6 [flags]   (layers <cmd> -h for flags)")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "p2":
		err = p2Main(args)
	case "p6":
		err = p6Main(args)
	case "serve":
		err = serveMain(args)
	default:
		err = fmt.Errorf("unknown command %q (want p2 or p6)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "layers:", err)
		os.Exit(1)
	}
}

// Where the brokers are installed (Debian packages redis-server, nats-server),
// as in core/layer/redis and core/layer/nats tests.
const (
	redisBinary = "/usr/bin/redis-server"
	natsBinary  = "/usr/sbin/nats-server"
)

// broker is a redis-server or nats-server of the benchmark's own, on a free
// loopback port in a temp directory.
type broker struct {
	name string
	port int
	dir  string
	cmd  *exec.Cmd
}

func startRedis() (*broker, error) {
	b, err := newBroker("redis-server", redisBinary)
	if err != nil {
		return nil, err
	}
	b.cmd = exec.Command(redisBinary, "--port", strconv.Itoa(b.port), "--bind", "127.0.0.1",
		"--dir", b.dir, "--save", "", "--appendonly", "no", "--daemonize", "no")
	return b, b.start(func(c net.Conn, r *bufio.Reader) bool {
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		line, err := r.ReadString('\n')
		return err == nil && line == "+PONG\r\n"
	})
}

func startNATS() (*broker, error) {
	b, err := newBroker("nats-server", natsBinary)
	if err != nil {
		return nil, err
	}
	b.cmd = exec.Command(natsBinary, "-a", "127.0.0.1", "-p", strconv.Itoa(b.port))
	return b, b.start(func(c net.Conn, r *bufio.Reader) bool {
		line, err := r.ReadString('\n')
		return err == nil && strings.HasPrefix(line, "INFO ")
	})
}

func newBroker(name, binary string) (*broker, error) {
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("%s missing (apt-get install %s): %w", name, name, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-layers-"+name+"-")
	if err != nil {
		return nil, err
	}
	return &broker{name: name, port: port, dir: dir}, nil
}

func (b *broker) start(ready func(net.Conn, *bufio.Reader) bool) error {
	if err := b.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", b.name, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.addr(), time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			ok := ready(c, bufio.NewReader(c))
			c.Close()
			if ok {
				return nil
			}
		}
		if time.Now().After(deadline) {
			b.stop()
			return fmt.Errorf("%s on port %d did not come up", b.name, b.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *broker) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

func (b *broker) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
	}
	os.RemoveAll(b.dir)
}

func (b *broker) pid() int { return b.cmd.Process.Pid }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// loadAvg is the machine's 1-minute load average (Linux).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// percentiles of sorted samples.
type dist struct {
	n             int
	p50, p99, max time.Duration
}

func distOf(samples []time.Duration) dist {
	if len(samples) == 0 {
		return dist{}
	}
	slices.Sort(samples)
	return dist{n: len(samples), p50: samples[len(samples)/2], p99: samples[len(samples)*99/100], max: samples[len(samples)-1]}
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + " ms" }

func waitCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
