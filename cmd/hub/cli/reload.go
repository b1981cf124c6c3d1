package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func reloadCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Make the running hub read its config file again",
		Long: "Send SIGHUP to the hub that `hub run` started with this config's store, found by\n" +
			"its pid file (<store>.pid). The hub reads the file it was started with again and\n" +
			"applies it without a restart: routes, plugins and bots added, changed or removed;\n" +
			"open WebSockets and conversations are left alone. A config with errors is logged\n" +
			"by the hub, at its line, and the running one stays; this command checks the file\n" +
			"first and sends nothing if it has errors. The hub's log says what changed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			pid, err := runningHub(cfg.Store)
			if err == nil {
				err = signalReload(pid)
			}
			if err != nil {
				return failure{fmt.Errorf("reload: %w", err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "hub (pid %d) is reloading its config; its log says what changed\n", pid)
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}
