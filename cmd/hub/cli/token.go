package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hubhq/hub/store"
)

// tokenPlatforms are the platforms a token can be registered for.
var tokenPlatforms = []string{"telegram", "discord"}

func tokenCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Register, list and remove bot tokens",
		Long: "Bot tokens are kept in the hub's store (a file only its owner may read), so that\n" +
			"the config need not hold them: a bot in the config without a token: uses the token\n" +
			"registered under its name. Tokens are never printed.",
	}
	cmd.PersistentFlags().StringVarP(&path, "config", "c", "", "config file (default: ./hub.yaml if present, else the built-in defaults)")
	cmd.AddCommand(tokenAddCommand(&path), tokenListCommand(&path), tokenRemoveCommand(&path))
	return cmd
}

func tokenAddCommand(path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "add PLATFORM NAME",
		Short: "Register the token of the bot NAME, read from stdin (or typed, unseen, at a prompt)",
		Example: "  hub token add telegram support           # type it at the prompt\n" +
			"  printenv SUPPORT_TOKEN | hub token add telegram support",
		Args: func(_ *cobra.Command, args []string) error {
			// Never echo args back: a third one is probably the token.
			switch {
			case len(args) > 2:
				return errors.New("token add takes no token on the command line (it would stay in your shell history and process list): pipe it in, or type it at the prompt")
			case len(args) < 2:
				return errors.New("token add needs PLATFORM and NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			platform, name := args[0], args[1]
			if !slices.Contains(tokenPlatforms, platform) {
				return fmt.Errorf("unknown platform %q (want %s)", platform, strings.Join(tokenPlatforms, " or "))
			}
			token, err := readToken(cmd.Context(), cmd.InOrStdin(), cmd.ErrOrStderr(), name)
			if err != nil {
				return err
			}
			if err := checkToken(platform, token); err != nil {
				return err
			}
			return withTokenStore(*path, func(db *store.DB, file string) error {
				if err := db.TokenAdd(cmd.Context(), name, platform, token); err != nil {
					return failed(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token of %s bot %q saved in %s\n", platform, name, file)
				return nil
			})
		},
	}
}

func tokenListCommand(path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the registered tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTokenStore(*path, func(db *store.DB, _ string) error {
				list, err := db.TokenList(cmd.Context())
				if err != nil {
					return failed(err)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPLATFORM\tADDED\tTOKEN")
				for _, t := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\tset\n", t.Name, t.Platform, t.Created.Format("2006-01-02 15:04"))
				}
				return tw.Flush()
			})
		},
	}
}

func tokenRemoveCommand(path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove the token of the bot NAME",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withTokenStore(*path, func(db *store.DB, _ string) error {
				err := db.TokenRemove(cmd.Context(), args[0])
				if errors.Is(err, store.ErrNoToken) {
					return fmt.Errorf("no token is registered for %q", args[0])
				}
				if err != nil {
					return failed(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token of %q removed\n", args[0])
				return nil
			})
		},
	}
}

// withTokenStore opens the config's store for fn.
func withTokenStore(path string, fn func(db *store.DB, file string) error) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	db, err := store.Open(cfg.Store)
	if err != nil {
		return failed(fmt.Errorf("open store %s: %w", cfg.Store, err))
	}
	err = fn(db, cfg.Store)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = failed(cerr)
	}
	return err
}

// readToken reads one line: from a pipe or file as it comes, from a
// terminal at a prompt with echo off, so the token is seen nowhere.
func readToken(ctx context.Context, in io.Reader, prompt io.Writer, name string) (string, error) {
	if f, ok := in.(*os.File); ok && isTerminalFile(f) {
		restore, err := echoOff(f)
		if err != nil {
			return "", fmt.Errorf("cannot hide the token as it is typed (%v): pipe it in instead", err)
		}
		defer restore()
		// Ctrl-C at the prompt must not leave the terminal without echo.
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
		defer stop()
		fmt.Fprintf(prompt, "Token of %s (not shown): ", name)
		defer fmt.Fprintln(prompt)
		line := make(chan string, 1)
		go func() { line <- tokenLine(f) }()
		select {
		case s := <-line:
			return tokenNonEmpty(s)
		case <-ctx.Done():
			return "", errors.New("interrupted")
		}
	}
	return tokenNonEmpty(tokenLine(in))
}

func tokenLine(r io.Reader) string {
	s, _ := bufio.NewReader(r).ReadString('\n')
	return strings.TrimSpace(s)
}

func tokenNonEmpty(token string) (string, error) {
	if token == "" {
		return "", errors.New("no token given on stdin")
	}
	return token, nil
}

func isTerminalFile(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// echoOff turns the terminal's echo off with stty (every Unix has it; the
// module has no terminal library) and returns what turns it back on.
func echoOff(f *os.File) (restore func(), err error) {
	stty := func(arg string) error {
		c := exec.Command("stty", arg)
		c.Stdin = f
		return c.Run()
	}
	if err := stty("-echo"); err != nil {
		return nil, err
	}
	return func() { stty("echo") }, nil //nolint:errcheck // nothing more to do if it fails
}

// telegramToken is the shape of a Bot API token: the bot's id, a colon, a
// secret; checking it catches a paste of the wrong thing.
var telegramToken = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]{20,}$`)

// checkToken refuses an obviously wrong token without ever printing it.
func checkToken(platform, token string) error {
	switch {
	case strings.ContainsAny(token, " \t"):
		return errors.New("the token contains spaces")
	case platform == "telegram" && !telegramToken.MatchString(token):
		return errors.New("that is not a Telegram bot token (123456:ABC…, from @BotFather)")
	}
	return nil
}
