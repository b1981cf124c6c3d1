package websocket

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/internal/poll"
)

// TestIdleFootprint measures what an idle socket costs the server, with the
// runtime's own cost included (instance goroutine, inbox, layer pump):
//
//	HUB_WS_FOOTPRINT=5000 go test -run IdleFootprint -v ./adapters/websocket
//
// The clients run in a child process (this test binary again), so only the
// server's memory is counted.
func TestIdleFootprint(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HUB_WS_FOOTPRINT"))
	if n <= 0 {
		t.Skip("set HUB_WS_FOOTPRINT=<connections> to measure")
	}
	for _, withLayer := range []bool{false, true} {
		t.Run(fmt.Sprintf("layer=%v", withLayer), func(t *testing.T) {
			// HUB_WS_FOOTPRINT_PING=100ms makes the sockets ping and pong
			// while they idle.
			ping, _ := time.ParseDuration(os.Getenv("HUB_WS_FOOTPRINT_PING"))
			h := newHub(t, echo(nil), Options{PingInterval: ping, PongTimeout: 10 * ping})
			if !withLayer {
				h.rt.Layer = nil
				h.a.rt.Layer = nil
			}
			before := footprint()
			child := exec.Command(os.Args[0], "-test.run=^TestFootprintClients$")
			child.Env = append(os.Environ(), "HUB_WS_FOOTPRINT_URL="+h.url("/"), "HUB_WS_FOOTPRINT_N="+strconv.Itoa(n))
			stdin, _ := child.StdinPipe()
			stdout, _ := child.StdoutPipe()
			child.Stderr = os.Stderr
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { stdin.Close(); _ = child.Wait() }()
			if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
				t.Fatalf("client process: %q, %v", line, err)
			}
			poll.Until(t, patience, "every socket to be open", func() bool { return h.a.Conns() == n && h.rt.Metrics.Live() == int64(n) })
			after := footprint()
			if path := os.Getenv("HUB_WS_FOOTPRINT_PROFILE"); path != "" {
				f, err := os.Create(fmt.Sprintf("%s.layer-%v", path, withLayer))
				if err == nil {
					_ = pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
			t.Logf("%d idle sockets: RSS %.1f KiB/socket, heap %.1f KiB/socket, stacks %.1f KiB/socket, goroutines %.2f/socket",
				n, per(after.rss-before.rss, n), per(after.heap-before.heap, n), per(after.stack-before.stack, n),
				float64(after.goroutines-before.goroutines)/float64(n))
		})
	}
}

// TestFootprintClients is TestIdleFootprint's child process: it opens the
// sockets, says "ready" and holds them until its stdin closes.
func TestFootprintClients(t *testing.T) {
	url := os.Getenv("HUB_WS_FOOTPRINT_URL")
	n, _ := strconv.Atoi(os.Getenv("HUB_WS_FOOTPRINT_N"))
	if url == "" {
		t.Skip("child process of TestIdleFootprint")
	}
	d := gorilla.Dialer{ReadBufferSize: 256, WriteBufferSize: 256}
	conns := make([]*gorilla.Conn, 0, n)
	for range n {
		c, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
		go func() { // reading answers the server's pings
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

type usage struct{ rss, heap, stack, goroutines int }

func footprint() usage {
	// Settle before measuring: freed memory back to the OS, stacks shrunk.
	// The pauses are deliberate, not a wait for a condition: the runtime's
	// background scavenger and sweeper get time to run between collections.
	for range 3 {
		runtime.GC()
		debug.FreeOSMemory()
		time.Sleep(50 * time.Millisecond)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return usage{rss: rssBytes(), heap: int(m.HeapInuse), stack: int(m.StackInuse), goroutines: runtime.NumGoroutine()}
}

// rssBytes reads the process's resident set size from /proc (Linux).
func rssBytes() int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kb, _ := strconv.Atoi(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))))
			return kb << 10
		}
	}
	return 0
}

func per(bytes, n int) float64 { return float64(bytes) / 1024 / float64(n) }

var _ core.Application = echo(nil)

// BenchmarkEcho measures round trips on one socket: each message wakes the
// parked socket, and it parks again after the echo.
func BenchmarkEcho(b *testing.B) {
	h := newHub(b, echo(nil), Options{})
	c := h.dial("/")
	msg := []byte("hello, hub")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WriteMessage(gorilla.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEchoParallel runs round trips on many sockets at once.
func BenchmarkEchoParallel(b *testing.B) {
	h := newHub(b, echo(nil), Options{})
	msg := []byte("hello, hub")
	b.RunParallel(func(pb *testing.PB) {
		c := h.dial("/")
		for pb.Next() {
			if err := c.WriteMessage(gorilla.TextMessage, msg); err != nil {
				b.Error(err)
				return
			}
			if _, _, err := c.ReadMessage(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
