package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/server"

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
	raiseNoFile()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the parent closes our stdin to stop us, or dies
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	dir, err := os.MkdirTemp(*dbDir, "bench-layers-hub-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg, err := config.Parse("bench-layers", fmt.Appendf(nil, hubConfig, filepath.Join(dir, "hub.db"), *layerURL))
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	slog.SetDefault(logger)
	s, err := server.New(cfg, logger)
	if err != nil {
		return err
	}
	if err := s.Listen(); err != nil {
		return err
	}
	fmt.Printf("ready %s\n", s.Addr())
	return s.Run(ctx)
}
