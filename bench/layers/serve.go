package main

import (
	"github.com/hubhq/hub/bench"

	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	_ "github.com/hubhq/hub/plugins/chatroom" // the consumer of P2
)

// hubConfig is the P2 hub: the bundled chatroom at /ws/chat/{room}/, the
// layer under test, a SQLite store in a temp directory.
const hubConfig = `listen: 127.0.0.1:0
store: %s
layer: %s
log:
  level: warn
routes:
  websocket:
    - path: /ws/chat/{room}/
      consumer: chatroom
`

// serveMain is a hub child: server.New from hubConfig, prints
// "ready <addr>" and runs until its stdin closes.
func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	layerURL := fs.String("layer", "memory", "the channel layer: memory, redis://…, nats://…")
	dbDir := fs.String("dbdir", "", "directory for the SQLite store (default: a temp directory)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the hub's whole life to this file")
	_ = fs.Parse(args)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	bench.RaiseNoFile()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the parent closes our stdin to stop us, or dies
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	s, remove, err := bench.NewHub("bench-layers-hub", *dbDir, fmt.Sprintf(hubConfig, "%s", *layerURL)) // the store path is NewHub's
	if err != nil {
		return err
	}
	defer remove()
	fmt.Printf("ready %s\n", s.Addr())
	return s.Run(ctx)
}
