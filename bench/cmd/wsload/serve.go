package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/hubhq/hub/bench"

	_ "github.com/hubhq/hub/plugins/chatroom" // the consumer of the idle benchmark
)

// Paths the server child serves.
const (
	echoPath  = "/echo/"         // bench-echo
	chatPath  = "/ws/chat/idle/" // chatroom, room "idle"
	probePath = "/bench/probe/"  // bench-probe
	hubConfig = `listen: 127.0.0.1:0
store: %s
layer: %s
log:
  level: warn
routes:
  websocket:
    - path: /echo/
      consumer: ` + bench.EchoPlugin + `
    - path: /ws/chat/{room}/
      consumer: chatroom
    - path: /bench/probe/
      consumer: ` + bench.ProbePlugin + `
`
)

// serveMain is the server child: it serves one hub or one bare gorilla
// server on 127.0.0.1 and a stats listener beside it, prints
// "ready <addr> <stats addr>" and runs until its stdin closes.
func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	mode := fs.String("mode", "hub", "hub or bare")
	layerName := fs.String("layer", "memory", "the hub's channel layer: memory or none")
	memRate := fs.Int("memprofilerate", 0, "runtime.MemProfileRate (0: the runtime's default)")
	_ = fs.Parse(args)
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}
	bench.RaiseNoFile()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the parent closes our stdin to stop us, or dies
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	var (
		addr  string
		conns func() int64 // open sockets, for the stats
		run   func() error
	)
	switch *mode {
	case "bare":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		b := new(bareEcho)
		srv := &http.Server{Handler: b}
		addr, conns = ln.Addr().String(), b.open.Load
		run = func() error {
			go func() { <-ctx.Done(); srv.Close() }()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}
	case "hub":
		s, remove, err := bench.NewHub("wsload", "", fmt.Sprintf(hubConfig, "%s", *layerName)) // the store path is NewHub's
		if err != nil {
			return err
		}
		defer remove()
		addr, conns = s.Addr(), func() int64 { return -1 } // the hub's own count is in /metrics
		run = func() error { return s.Run(ctx) }
	default:
		return fmt.Errorf("serve: unknown mode %q", *mode)
	}

	statsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("settle") {
			settle()
		}
		_ = json.NewEncoder(w).Encode(readStats(conns()))
	})
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	statsSrv := &http.Server{Handler: mux}
	go func() { _ = statsSrv.Serve(statsLn) }()
	defer statsSrv.Close()

	fmt.Printf("ready %s %s\n", addr, statsLn.Addr())
	return run()
}

// bareEcho is the baseline: gorilla/websocket on net/http as its own echo
// example writes it, default buffers, one goroutine per socket reading and
// writing back.
type bareEcho struct {
	up   gorilla.Upgrader
	open atomic.Int64
}

func (b *bareEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := b.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	b.open.Add(1)
	defer b.open.Add(-1)
	defer c.Close()
	for {
		kind, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(kind, data); err != nil {
			return
		}
	}
}

// stats is what the server child reports about itself.
type stats struct {
	RSS        int64  `json:"rss"` // VmRSS, bytes
	HeapInuse  uint64 `json:"heap_inuse"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
	Conns      int64  `json:"conns"`          // bare only; -1 for the hub (see /metrics)
	Channels   int    `json:"layer_channels"` // -1: unknown (bare, or not probed yet)
	Groups     int    `json:"layer_groups"`
}

func readStats(conns int64) stats {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := stats{
		RSS: rss(os.Getpid()), HeapInuse: m.HeapInuse, HeapAlloc: m.HeapAlloc, StackInuse: m.StackInuse,
		Sys: m.Sys, Goroutines: runtime.NumGoroutine(), Conns: conns, Channels: -1, Groups: -1,
	}
	if ch, gr, ok := bench.LayerSize(); ok {
		s.Channels, s.Groups = ch, gr
	}
	return s
}

// settle collects garbage, returns freed pages to the OS and lets stacks
// shrink, so that two readings differ by live memory only.
func settle() {
	for range 3 {
		runtime.GC()
		debug.FreeOSMemory()
		time.Sleep(50 * time.Millisecond)
	}
}
