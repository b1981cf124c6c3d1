package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

const modulePath = "github.com/hubhq/hub"

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the hub's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "hub %s (%s)\n", version(), runtime.Version())
		},
	}
}

// version is the hub module's version from the build info: the main module's
// when this is the hub's own binary, the dependency's when a project embeds
// the hub; "dev" for a build from a work tree.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := info.Main.Version
	if info.Main.Path != modulePath {
		v = ""
		for _, d := range info.Deps {
			if d.Path == modulePath {
				v = d.Version
			}
		}
	}
	if v == "" || v == "(devel)" {
		return "dev"
	}
	return v
}
