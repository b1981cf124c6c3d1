package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/server"
)

func runCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Serve the hub until SIGINT or SIGTERM",
		Long: "Serve the routes of the config file. Without --config, ./hub.yaml is read if it\n" +
			"exists, else the built-in defaults serve the bundled chat room on 127.0.0.1:8080.\n" +
			"SIGINT or SIGTERM shut down gracefully (a second one kills). SIGHUP (or `hub\n" +
			"reload`) reads the config file again and applies it without a restart; a config\n" +
			"with errors is logged and the running one stays. The pid is in <store>.pid.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, stop, cfg, cmd.ErrOrStderr())
		},
	}
	configFlag(cmd, &path)
	return cmd
}

// serve runs the hub until ctx ends. Once it has, stop restores the default
// signal handling, so a second Ctrl-C kills a shutdown that hangs.
func serve(ctx context.Context, stop func(), cfg *config.Config, logs io.Writer) error {
	logger := newLogger(cfg.Log, logs)
	slog.SetDefault(logger) // plugins that log through slog.Default match the hub
	srv, err := server.New(cfg, logger)
	if err != nil {
		return failed(err)
	}
	pid, err := writePIDFile(cfg.Store)
	if err != nil {
		srv.Close()
		return failed(err)
	}
	defer pid.remove()
	logger.Info("starting hub", "config", cfg.File(), "version", version(), "pid", os.Getpid())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// Reloads end with Run, which may return before ctx ends (a failure).
	var reloads sync.WaitGroup
	defer reloads.Wait()
	rctx, endReloads := context.WithCancel(ctx)
	defer endReloads()
	reloads.Go(func() { reloadOn(rctx, hup, srv, cfg.File(), logger) })
	go func() {
		<-ctx.Done()
		stop()
	}()
	return failed(srv.Run(ctx))
}

// reloadOn reloads the config file on each SIGHUP until ctx ends.
func reloadOn(ctx context.Context, hup <-chan os.Signal, srv *server.Server, file string, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload(srv, file, logger)
		}
	}
}

// reload reads the config file again and applies it; an error (in the
// file: at its line) is logged, and the running config stays.
func reload(srv *server.Server, file string, logger *slog.Logger) {
	if file == config.DefaultFile {
		logger.Warn("reload: the hub runs the built-in defaults; there is no config file to read again")
		return
	}
	logger.Info("reloading", "config", file)
	cfg, err := config.Load(file)
	if err == nil {
		err = srv.Reload(cfg)
	}
	if err != nil {
		logger.Error("reload failed; the running config stays", "err", err)
	}
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
