package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hubhq/hub/server"
)

func routesCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "Print the routing table of the config",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROTOCOL\tPATH/TOPIC\tVIA\tCONSUMER")
			for _, r := range server.Routes(cfg) {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Protocol, r.Match, orDash(r.Via), r.Target)
			}
			return tw.Flush()
		},
	}
	configFlag(cmd, &path)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
