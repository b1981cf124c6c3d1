package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hubhq/hub/config"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1 // the hub failed while running
	ExitUsage  = 2 // a broken config or command line
)

// Main runs the command line given to the process and returns its exit code.
func Main() int {
	return Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
}

// Run runs the command line args (without the program name) and returns the
// exit code; errors are printed to stderr as "hub: …", one per line.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := Command()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	for line := range strings.Lines(err.Error()) {
		fmt.Fprintf(stderr, "hub: %s", line)
		if !strings.HasSuffix(line, "\n") {
			fmt.Fprintln(stderr)
		}
	}
	return exitCode(err)
}

// failure marks an error of a command that got past its config: the hub
// itself failed.
type failure struct{ error }

func (f failure) Unwrap() error { return f.error }

// failed marks err as a failure of the hub, unless it is a config error
// (exit code 2 either way for those: the fix is in the file).
func failed(err error) error {
	if err == nil || errors.As(err, new(*config.Error)) {
		return err
	}
	return failure{err}
}

func exitCode(err error) int {
	var ce *config.Error
	if errors.As(err, &ce) {
		return ExitUsage
	}
	if errors.As(err, new(failure)) {
		return ExitFailed
	}
	return ExitUsage // cobra's own errors: unknown command or flag
}

// Command returns the root `hub` command, for programs that want to add
// commands of their own before running it.
func Command() *cobra.Command {
	root := &cobra.Command{
		Use:   "hub",
		Short: "Hub: a multi-protocol bot and chat hub",
		Long: "Hub routes WebSocket, chat and MQTT traffic to consumers written as plugins,\n" +
			"modelled on Django Channels. Run `hub run` to serve the bundled chat room.",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.AddCommand(runCommand(), reloadCommand(), workerCommand(), chatCommand(), tokenCommand(), routesCommand(), versionCommand())
	root.AddCommand(doctorCommand(), initCommand())
	return root
}

// configFlag adds --config to cmd.
func configFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVarP(path, "config", "c", "", "config file (default: ./hub.yaml if present, else the built-in defaults)")
}

// defaultConfigFile is read when --config is not given and it exists.
const defaultConfigFile = "hub.yaml"

// loadConfig reads the config file named by --config, else ./hub.yaml,
// else returns the built-in defaults.
func loadConfig(path string) (*config.Config, error) {
	if path != "" {
		return config.Load(path)
	}
	if _, err := os.Stat(defaultConfigFile); err == nil {
		return config.Load(defaultConfigFile)
	}
	return config.Default(), nil
}
