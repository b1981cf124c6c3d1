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

func workerCommand() *cobra.Command {
	var path, listen string
	cmd := &cobra.Command{
		Use:   "worker [CHANNEL...]",
		Short: "Serve fixed layer channels (routes.channel) until SIGINT or SIGTERM",
		Long: "Serve the channels named, or every channel of routes.channel, from the channel\n" +
			"layer: what a Send to \"thumbnails\" from any hub process reaches. The layer must\n" +
			"be one other processes share (redis:// or nats://); run several workers to share\n" +
			"the load, each message is handled by one of them.",
		RunE: func(cmd *cobra.Command, channels []string) error {
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return work(ctx, stop, cfg, server.WorkerOptions{Channels: channels, Listen: listen}, cmd.ErrOrStderr())
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().StringVar(&listen, "listen", "", "serve /metrics and /healthz on this address (host:port), off by default")
	return cmd
}

// work runs a worker until ctx ends; stop restores default signal handling
// once it has, as in serve.
func work(ctx context.Context, stop func(), cfg *config.Config, opts server.WorkerOptions, logs io.Writer) error {
	logger := newLogger(cfg.Log, logs)
	slog.SetDefault(logger)
	w, err := server.NewWorker(cfg, logger, opts)
	if err != nil {
		return failed(err)
	}
	logger.Info("starting worker", "config", cfg.File(), "version", version())
	go func() {
		<-ctx.Done()
		stop()
	}()
	return failed(w.Run(ctx))
}
