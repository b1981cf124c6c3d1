// Command wsload is the hub's WebSocket load generator. Each benchmark runs
// a bare gorilla/websocket server and the hub, each in a child process of
// its own (this binary again, "wsload serve"), one after the other, and
// reports the hub's numbers as ratios to the bare server's:
//
//	go run ./bench/cmd/wsload echo   # P1: round trips/s and latency, 100 sockets
//	go run ./bench/cmd/wsload idle   # P3: memory per idle socket, 10,000 sockets; leak check
//
// The hub child is the real assembly (server.New from a config): origin
// check, URL router, plugins from the registry, SQLite store, in-memory
// layer. The load generator shares the machine's cores with the server; see
// docs/BENCHMARKS.md for what that means for the numbers.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hubhq/hub/bench"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wsload echo|idle [flags]   (wsload <cmd> -h for flags)")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "echo":
		err = echoMain(args)
	case "idle":
		err = idleMain(args)
	case "serve":
		err = serveMain(args)
	default:
		err = fmt.Errorf("unknown command %q (want echo or idle)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

// child is a server process started by the load generator.
type child struct {
	*bench.Child
	mode  string
	addr  string // the server
	stats string // its stats listener
}

// startChild starts "wsload serve -mode mode flags..." and waits for it to
// listen.
func startChild(mode string, flags ...string) (*child, error) {
	c, err := bench.StartChild(2, append([]string{"serve", "-mode", mode}, flags...)...)
	if err != nil {
		return nil, fmt.Errorf("%s server: %w", mode, err)
	}
	return &child{Child: c, mode: mode, addr: c.Ready[0], stats: c.Ready[1]}, nil
}

// httpc talks to the children without keep-alive, so that no idle HTTP
// connection (and its server goroutine) skews a goroutine count.
var httpc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func getBody(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}

// readStats fetches the child's stats; settle first collects garbage.
func (c *child) readStats(ctx context.Context, settle bool) (stats, error) {
	url := "http://" + c.stats + "/stats"
	if settle {
		url += "?settle=1"
	}
	var s stats
	b, err := getBody(ctx, url)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	return s, err
}

// metrics fetches the hub's /metrics and returns the unlabelled or
// single-series values by name (hub_scopes_live, go_goroutines, …).
func (c *child) metrics(ctx context.Context) (map[string]float64, error) {
	b, err := getBody(ctx, "http://"+c.addr+"/metrics")
	if err != nil {
		return nil, err
	}
	m := make(map[string]float64)
	for line := range bytes.Lines(b) {
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		f := strings.Fields(string(line))
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(f[0], "{")
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			m[name] = v
		}
	}
	return m, nil
}

// rss is a process's VmRSS in bytes, read from /proc (Linux).
func rss(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kb, _ := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))), 10, 64)
			return kb << 10
		}
	}
	return -1
}

func noFile() uint64 {
	var l syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	return l.Cur
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("waiting for %s: %w", what, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var errMismatch = errors.New("echo does not match")

func kib(b float64) string { return strconv.FormatFloat(b/1024, 'f', 2, 64) }
