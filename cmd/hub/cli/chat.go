package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hubhq/hub/adapters/console"
	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/store"
)

// defaultChatConsumer is what `hub chat` talks to when neither --consumer
// nor routes.telegram names one.
const defaultChatConsumer = "echo"

func chatCommand() *cobra.Command {
	var path, as, consumer string
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Talk to your chat consumers in the terminal",
		Long: "Talk to a chat consumer as a Telegram or Discord user would: each line is a message,\n" +
			"each answer a line. The consumer is --consumer, else the one routes.telegram routes to,\n" +
			"else echo. The conversation (console:<NAME>) keeps its state in the config's store, so\n" +
			"what the consumer remembers survives to the next `hub chat`. Ctrl-D ends it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			name, app, err := chatConsumer(cfg, consumer)
			if err != nil {
				return err
			}
			if as == "" {
				as = chatUser()
			}
			db, err := store.Open(cfg.Store)
			if err != nil {
				return failed(fmt.Errorf("open store %s: %w", cfg.Store, err))
			}
			defer db.Close()
			quiet := cfg.Log
			quiet.Level = max(quiet.Level, slog.LevelWarn) // the terminal is the conversation
			a, err := console.New(console.Options{
				Runtime: &core.Runtime{App: core.Named(name, app), Store: db, InboxSize: cfg.Inbox.Size, Logger: newLogger(quiet, cmd.ErrOrStderr())},
				User:    as,
				In:      cmd.InOrStdin(),
				Out:     cmd.OutOrStdout(),
			})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return failed(a.Run(ctx))
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().StringVar(&as, "as", "", "who you are in the conversation (default: $USER)")
	cmd.Flags().StringVar(&consumer, "consumer", "", "the consumer to talk to (default: routes.telegram's, else echo)")
	return cmd
}

// chatConsumer builds the consumer `hub chat` talks to: the one named, else
// the first one routes.telegram routes to (with its options), else echo.
func chatConsumer(cfg *config.Config, name string) (string, core.Application, error) {
	var opts plugins.Options
	switch {
	case name != "":
	case len(cfg.Routes.Telegram) > 0:
		r := cfg.Routes.Telegram[0]
		name, opts = r.Consumer, plugins.Options(r.Options)
		app, err := plugins.New(name, opts)
		if err != nil {
			return "", nil, cfg.Errorf("routes.telegram[0].consumer", "%v", err)
		}
		return name, app, nil
	default:
		name = defaultChatConsumer
	}
	app, err := plugins.New(name, opts)
	if err != nil {
		return "", nil, fmt.Errorf("--consumer: %w", err)
	}
	return name, app, nil
}

func chatUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "you"
}
