package main

import (
	"github.com/hubhq/hub/bench"

	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gorilla "github.com/gorilla/websocket"
)

// echoMain is benchmark P1: round trips through an echo consumer on the
// hub against a bare gorilla echo server.
func echoMain(args []string) error {
	fs := flag.NewFlagSet("echo", flag.ExitOnError)
	n := fs.Int("conns", 100, "sockets per server")
	warmup := fs.Duration("warmup", time.Second, "warm-up before measuring, not counted")
	dur := fs.Duration("duration", 5*time.Second, "measuring time per server and payload")
	sizesFlag := fs.String("sizes", "64,1024", "payload sizes in bytes, comma-separated")
	binary := fs.Bool("binary", false, "send binary frames instead of text")
	cpuProfile := fs.String("cpuprofile", "", "directory for a CPU profile of each server during the last measurement of each payload")
	rounds := fs.Int("rounds", 3, "measurements of each server and payload, alternating")
	limit := fs.Duration("timeout", 3*time.Minute, "bound on the whole run")
	_ = fs.Parse(args)
	var sizes []int
	for s := range strings.SplitSeq(*sizesFlag, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v <= 0 {
			return fmt.Errorf("bad size %q", s)
		}
		sizes = append(sizes, v)
	}
	bench.RaiseNoFile()
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()

	bare, err := startChild("bare")
	if err != nil {
		return err
	}
	defer bare.Stop()
	hub, err := startChild("hub")
	if err != nil {
		return err
	}
	defer hub.Stop()

	kind := "text"
	if *binary {
		kind = "binary"
	}
	fmt.Printf("wsload echo: %s, %s, GOMAXPROCS=%d, NumCPU=%d (client and servers share them); load average %s\n",
		time.Now().UTC().Format(time.RFC3339), runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), loadAvg())
	fmt.Printf("%d sockets per server, one server at a time; %s frames; warm-up %v, measured %v; each socket sends, waits for the echo, repeats; %d rounds, bare and hub alternating\n\n",
		*n, kind, *warmup, *dur, *rounds)
	fmt.Println("| round | payload | server | round trips/s | p50 | p99 | max | server CPU per trip |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|")
	// ratios[size index] holds one hub/bare pair per round.
	type pair struct{ bare, hub echoResult }
	pairs := make([][]pair, len(sizes))
	for round := range *rounds {
		for i, size := range sizes {
			var p pair
			order := []struct {
				c    *child
				path string
				r    *echoResult
			}{{bare, "/", &p.bare}, {hub, echoPath, &p.hub}}
			if round%2 == 1 { // alternate, so a drift in the machine's load favours neither
				order[0], order[1] = order[1], order[0]
			}
			for _, srv := range order {
				prof := ""
				if *cpuProfile != "" && round == *rounds-1 {
					prof = filepath.Join(*cpuProfile, fmt.Sprintf("%s-%dB.pprof", srv.c.mode, size))
				}
				r, err := measureEcho(ctx, srv.c, srv.path, *n, size, *binary, *warmup, *dur, prof)
				if err != nil {
					return fmt.Errorf("%s, %d B: %w", srv.c.mode, size, err)
				}
				*srv.r = r
				fmt.Printf("| %d | %d B | %s | %.0f | %v | %v | %v | %.1f µs |\n", round+1, size, srv.c.mode, r.rate(),
					r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.max.Round(time.Microsecond), r.cpuPerTrip())
			}
			pairs[i] = append(pairs[i], p)
		}
	}
	fmt.Printf("\nload average after: %s\n\n", loadAvg())
	fmt.Println("hub/bare, per round (median in bold):")
	fmt.Println()
	fmt.Println("| payload | throughput | p50 latency | p99 latency | server CPU per trip |")
	fmt.Println("|---|---|---|---|---|")
	for i, ps := range pairs {
		col := func(f func(p pair) float64) string {
			var vs []float64
			var b strings.Builder
			for _, p := range ps {
				v := f(p)
				vs = append(vs, v)
				fmt.Fprintf(&b, "%.2f ", v)
			}
			slices.Sort(vs)
			fmt.Fprintf(&b, "**%.2f×**", vs[len(vs)/2])
			return b.String()
		}
		fmt.Printf("| %d B | %s | %s | %s | %s |\n", sizes[i],
			col(func(p pair) float64 { return p.hub.rate() / p.bare.rate() }),
			col(func(p pair) float64 { return float64(p.hub.p50) / float64(p.bare.p50) }),
			col(func(p pair) float64 { return float64(p.hub.p99) / float64(p.bare.p99) }),
			col(func(p pair) float64 { return p.hub.cpuPerTrip() / p.bare.cpuPerTrip() }))
	}
	return nil
}

// loadAvg is the machine's 1-minute load average (Linux): other work on the
// machine competes with the benchmark for its cores.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return f[0]
}

type echoResult struct {
	trips         int
	dur           time.Duration
	p50, p99, max time.Duration
	cpu           time.Duration // the server process's, while measuring
}

func (r echoResult) rate() float64 { return float64(r.trips) / r.dur.Seconds() }

func (r echoResult) cpuPerTrip() float64 {
	return float64(r.cpu.Microseconds()) / float64(r.trips)
}

// measureEcho opens n sockets to the server and runs them side by side,
// each one message in flight at a time.
func measureEcho(ctx context.Context, c *child, path string, n, size int, binary bool, warmup, dur time.Duration, profile string) (echoResult, error) {
	d := gorilla.Dialer{HandshakeTimeout: 5 * time.Second}
	url := "ws://" + c.addr + path
	conns := make([]*gorilla.Conn, 0, n)
	defer func() {
		for _, ws := range conns {
			closeSocket(ws)
		}
	}()
	for range n {
		ws, _, err := d.DialContext(ctx, url, nil)
		if err != nil {
			return echoResult{}, fmt.Errorf("dial %s: %w", url, err)
		}
		conns = append(conns, ws)
	}
	kind, payload := gorilla.TextMessage, bytes.Repeat([]byte("x"), size)
	if binary {
		kind = gorilla.BinaryMessage
	}

	start := time.Now()
	from, to := start.Add(warmup), start.Add(warmup+dur)
	lat := make([][]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, ws := range conns {
		wg.Go(func() {
			_ = ws.SetReadDeadline(to.Add(10 * time.Second))
			_ = ws.SetWriteDeadline(to.Add(10 * time.Second))
			for {
				t0 := time.Now()
				if t0.After(to) || ctx.Err() != nil {
					return
				}
				if err := ws.WriteMessage(kind, payload); err != nil {
					errs[i] = err
					return
				}
				_, got, err := ws.ReadMessage()
				if err != nil {
					errs[i] = err
					return
				}
				t1 := time.Now()
				if !bytes.Equal(got, payload) {
					errs[i] = errMismatch
					return
				}
				if !t0.Before(from) && !t1.After(to) {
					lat[i] = append(lat[i], t1.Sub(t0))
				}
			}
		})
	}
	time.Sleep(time.Until(from))
	cpu0 := bench.CPUTime(c.Pid())
	profiled := make(chan error, 1)
	if profile != "" {
		go func() { profiled <- saveCPUProfile(ctx, c, profile, dur) }()
	} else {
		profiled <- nil
	}
	time.Sleep(time.Until(to))
	cpu1 := bench.CPUTime(c.Pid())
	wg.Wait()
	if err := <-profiled; err != nil {
		return echoResult{}, err
	}
	for _, err := range errs {
		if err != nil {
			return echoResult{}, err
		}
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return echoResult{}, fmt.Errorf("no round trip completed")
	}
	slices.Sort(all)
	return echoResult{
		trips: len(all), dur: dur, cpu: cpu1 - cpu0,
		p50: all[len(all)/2], p99: all[len(all)*99/100], max: all[len(all)-1],
	}, nil
}

// saveCPUProfile records the server child's CPU profile for d.
func saveCPUProfile(ctx context.Context, c *child, path string, d time.Duration) error {
	secs := max(1, int(d.Seconds()))
	b, err := getBody(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.stats, secs))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// closeSocket runs the closing handshake from the client's side, bounded:
// send a close frame, read until the server's answer (or anything ending
// the stream), then close the connection.
func closeSocket(ws *gorilla.Conn) {
	deadline := time.Now().Add(5 * time.Second)
	_ = ws.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(gorilla.CloseNormalClosure, ""), deadline)
	_ = ws.SetReadDeadline(deadline)
	for {
		if _, _, err := ws.NextReader(); err != nil {
			break
		}
	}
	ws.Close()
}
