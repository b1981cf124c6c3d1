package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
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
			"SIGINT or SIGTERM shut down gracefully (a second one kills).",
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
	logger.Info("starting hub", "config", cfg.File(), "version", version())
	go func() {
		<-ctx.Done()
		stop()
	}()
	return failed(srv.Run(ctx))
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
