package main

import (
	"github.com/hubhq/hub/bench"

	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gorilla "github.com/gorilla/websocket"
)

// idleMain is benchmark P3: what an idle socket costs the server, and
// whether connect/disconnect cycles leave anything behind.
func idleMain(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	n := fs.Int("conns", 10000, "idle sockets to hold")
	cycles := fs.Int("cycles", 10000, "connect/disconnect cycles after the idle phase")
	par := fs.Int("concurrency", 64, "sockets opened or cycled at once")
	idle := fs.Duration("idle", 5*time.Second, "how long the sockets stay idle before the reading")
	modes := fs.String("servers", "bare,hub", "servers to measure, in order")
	path := fs.String("path", chatPath, "the hub route to open (the default is the chatroom consumer; "+echoPath+" is bench-echo)")
	layerName := fs.String("layer", "memory", "the hub's channel layer: memory or none")
	profile := fs.String("profile", "", "directory for the hub child's heap and goroutine profiles at the idle reading")
	memRate := fs.Int("memprofilerate", 0, "the children's runtime.MemProfileRate (1: every allocation; for -profile); it costs memory, so it skews the RSS readings")
	limit := fs.Duration("timeout", 3*time.Minute, "bound on the whole run")
	_ = fs.Parse(args)
	bench.RaiseNoFile()
	if need := uint64(*n + 100); noFile() < need {
		return fmt.Errorf("open-file limit %d is below the %d sockets asked for (ulimit -Hn)", noFile(), need)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()

	fmt.Printf("wsload idle: %s, %s, GOMAXPROCS=%d, NumCPU=%d (client and server share them); load average %s\n",
		time.Now().UTC().Format(time.RFC3339), runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), loadAvg())
	fmt.Printf("hub route %s, layer %s; ", *path, *layerName)
	fmt.Printf("%d idle sockets held %v (readings after GC + FreeOSMemory in the server), then %d connect/disconnect cycles, %d at a time\n\n",
		*n, *idle, *cycles, *par)
	var results []idleResult
	for _, mode := range splitList(*modes) {
		r, err := measureIdle(ctx, mode, *path, *layerName, *n, *cycles, *par, *idle, *profile, *memRate)
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		results = append(results, r)
	}
	fmt.Println("| server | RSS/socket (settled) | RSS/socket (raw) | heap/socket | stacks/socket | goroutines/socket |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, r := range results {
		fmt.Printf("| %s | %s KiB | %s KiB | %s KiB | %s KiB | %.2f |\n", r.mode, kib(r.rss), kib(r.rawRSS), kib(r.heap), kib(r.stack), r.goroutines)
	}
	if len(results) == 2 {
		b, h := results[0], results[1]
		fmt.Printf("\n%s/%s RSS per socket: %.2f×; heap %.2f×; stacks %.2f×\n", h.mode, b.mode, h.rss/b.rss, h.heap/b.heap, h.stack/b.stack)
	}
	fmt.Println()
	fmt.Println("| server | cycles | failed | goroutines before → after | heap before → after | live scopes | ws conns | layer channels/groups |")
	fmt.Println("|---|---:|---:|---|---|---:|---:|---|")
	for _, r := range results {
		fmt.Printf("| %s | %d | %d | %d → %d | %s → %s KiB | %s | %s | %s |\n", r.mode, r.cycles, r.cycleFailed,
			r.base.Goroutines, r.end.Goroutines, kib(float64(r.base.HeapInuse)), kib(float64(r.end.HeapInuse)),
			r.live, r.wsConns, r.layer)
	}
	fmt.Printf("\nload average after: %s\n", loadAvg())
	return nil
}

type idleResult struct {
	mode                     string
	rss, rawRSS, heap, stack float64 // bytes per socket
	goroutines               float64 // per socket
	cycles, cycleFailed      int
	base, end                stats
	live, wsConns, layer     string // after the cycles; "-" where the server cannot tell
}

// measureIdle runs the idle benchmark against one fresh server child.
func measureIdle(ctx context.Context, mode, path, layerName string, n, cycles, par int, idle time.Duration, profile string, memRate int) (r idleResult, err error) {
	c, err := startChild(mode, "-layer", layerName, "-memprofilerate", fmt.Sprint(memRate))
	if err != nil {
		return r, err
	}
	defer c.Stop()
	r.mode = mode
	url := "ws://" + c.addr + "/"
	if mode == "hub" {
		url = "ws://" + c.addr + path
		// Let the hub's layer be seen by the stats endpoint (answers 403).
		if ws, _, err := gorilla.DefaultDialer.DialContext(ctx, "ws://"+c.addr+probePath, nil); err == nil {
			ws.Close()
		}
	}
	// The server's own count of open sockets and live scopes.
	open := func() (conns, live int, err error) {
		if mode == "bare" {
			s, err := c.readStats(ctx, false)
			return int(s.Conns), int(s.Conns), err
		}
		m, err := c.metrics(ctx)
		return int(m["hub_websocket_connections"]), int(m["hub_scopes_live"]), err
	}
	if err := waitFor(ctx, "no open sockets", func() (bool, error) { a, b, err := open(); return a == 0 && b == 0, err }); err != nil {
		return r, err
	}
	if r.base, err = c.readStats(ctx, true); err != nil {
		return r, err
	}
	rss0 := rss(c.Pid())

	// Open n sockets, each with a reader (answering pings) on our side.
	socks := make([]*idleSocket, n)
	start := time.Now()
	if err := forEach(ctx, n, par, func(i int) error {
		s, err := dialIdle(ctx, url)
		socks[i] = s
		return err
	}); err != nil {
		closeAll(socks, par)
		return r, fmt.Errorf("open %d sockets: %w", n, err)
	}
	defer closeAll(socks, par)
	if err := waitFor(ctx, "every socket open on the server", func() (bool, error) { a, b, err := open(); return a == n && b == n, err }); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "%s: %d sockets open in %v\n", mode, n, time.Since(start).Round(time.Millisecond))
	time.Sleep(idle)
	fmt.Fprintf(os.Stderr, "%s: idle reading; %d pings answered so far\n", mode, pings.Load())
	rawRSS := rss(c.Pid())
	held, err := c.readStats(ctx, true)
	if err != nil {
		return r, err
	}
	rss1 := rss(c.Pid())
	per := func(a, b int64) float64 { return float64(a-b) / float64(n) }
	r.rss, r.rawRSS = per(rss1, rss0), per(rawRSS, rss0)
	r.heap = per(int64(held.HeapInuse), int64(r.base.HeapInuse))
	r.stack = per(int64(held.StackInuse), int64(r.base.StackInuse))
	r.goroutines = per(int64(held.Goroutines), int64(r.base.Goroutines))
	if profile != "" {
		if err := saveProfiles(ctx, c, profile, "idle-"); err != nil {
			return r, err
		}
	}
	for _, s := range socks {
		if s.failed() {
			return r, fmt.Errorf("a socket ended while idle: %v", s.err)
		}
	}
	closeAll(socks, par)
	if err := waitFor(ctx, "every socket closed on the server", func() (bool, error) { a, b, err := open(); return a == 0 && b == 0, err }); err != nil {
		return r, err
	}

	// Connect/disconnect cycles: each opens a socket and closes it at once.
	var failed atomic.Int64
	start = time.Now()
	_ = forEach(ctx, cycles, par, func(int) error {
		s, err := dialIdle(ctx, url)
		if err != nil {
			failed.Add(1)
			return nil
		}
		s.close()
		return nil
	})
	r.cycles, r.cycleFailed = cycles, int(failed.Load())
	fmt.Fprintf(os.Stderr, "%s: %d cycles in %v\n", mode, cycles, time.Since(start).Round(time.Millisecond))

	// Everything must go back: sockets, scopes, layer channels and groups,
	// goroutines (a few of the runtime's and net/http's may come and go).
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	settled := func() (bool, error) {
		a, b, err := open()
		if err != nil || a != 0 || b != 0 {
			return false, err
		}
		if r.end, err = c.readStats(wait, false); err != nil {
			return false, err
		}
		return r.end.Goroutines <= r.base.Goroutines+2 && r.end.Channels <= 0 && r.end.Groups <= 0, nil
	}
	leak := waitFor(wait, "the server back to its baseline", settled)
	if r.end, err = c.readStats(ctx, true); err != nil {
		return r, err
	}
	if profile != "" {
		if err := saveProfiles(ctx, c, profile, "after-cycles-"); err != nil {
			return r, err
		}
	}
	r.live, r.wsConns, r.layer = "-", "-", "-"
	if mode == "hub" {
		m, err := c.metrics(ctx)
		if err != nil {
			return r, err
		}
		r.live = fmt.Sprint(m["hub_scopes_live"])
		r.wsConns = fmt.Sprint(m["hub_websocket_connections"])
		r.layer = fmt.Sprintf("%d/%d", r.end.Channels, r.end.Groups)
	} else {
		r.wsConns = fmt.Sprint(r.end.Conns)
	}
	if leak != nil {
		fmt.Fprintf(os.Stderr, "%s: LEAK? %v: %+v\n", mode, leak, r.end)
	}
	return r, nil
}

// pings counts the server's pings the client sockets answered.
var pings atomic.Int64

// idleSocket is one client socket whose reader answers the server's pings
// and notices the end of the stream.
type idleSocket struct {
	ws   *gorilla.Conn
	done chan struct{}
	err  error // why the reader stopped; read after done
	mu   sync.Mutex
	shut bool // we closed it
}

func dialIdle(ctx context.Context, url string) (*idleSocket, error) {
	d := gorilla.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 256, WriteBufferSize: 256}
	ws, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, err
	}
	s := &idleSocket{ws: ws, done: make(chan struct{})}
	// gorilla's own answer gives a pong one second; on a loaded machine with
	// 10,000 sockets in one process that is too short.
	ws.SetPingHandler(func(data string) error {
		pings.Add(1)
		err := ws.WriteControl(gorilla.PongMessage, []byte(data), time.Now().Add(10*time.Second))
		if errors.Is(err, gorilla.ErrCloseSent) {
			return nil
		}
		return err
	})
	go func() {
		defer close(s.done)
		for {
			if _, _, err := ws.NextReader(); err != nil {
				s.err = err
				return
			}
		}
	}()
	return s, nil
}

// failed reports whether the socket ended without our asking.
func (s *idleSocket) failed() bool {
	select {
	case <-s.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.shut
	default:
		return false
	}
}

// close runs the closing handshake: our close frame, the server's answer
// (the reader sees it and stops), then the TCP connection; bounded.
func (s *idleSocket) close() {
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		return
	}
	s.shut = true
	s.mu.Unlock()
	_ = s.ws.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(gorilla.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
	s.ws.Close()
	<-s.done
}

func closeAll(socks []*idleSocket, par int) {
	_ = forEach(context.Background(), len(socks), par, func(i int) error {
		if socks[i] != nil {
			socks[i].close()
		}
		return nil
	})
}

// forEach calls f(0..n-1) from par goroutines; it stops at the first error.
func forEach(ctx context.Context, n, par int, f func(i int) error) error {
	var (
		next    atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	for range min(par, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					errOnce.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// saveProfiles stores the server child's heap profile and its goroutines
// (debug=1 groups identical stacks and counts them).
func saveProfiles(ctx context.Context, c *child, dir, prefix string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, path := range map[string]string{
		"heap.pprof":     "/debug/pprof/heap",
		"goroutines.txt": "/debug/pprof/goroutine?debug=1",
	} {
		b, err := getBody(ctx, "http://"+c.stats+path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, c.mode+"-"+prefix+name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
