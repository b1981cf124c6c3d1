// Command hub runs the hub with the bundled plugins. A project with plugins
// of its own builds its own binary the same way: blank-import the plugins
// and call cli.Main.
package main

import (
	"os"

	"github.com/hubhq/hub/cmd/hub/cli"

	_ "github.com/hubhq/hub/plugins/alerts"
	_ "github.com/hubhq/hub/plugins/bridge"
	_ "github.com/hubhq/hub/plugins/chatroom"
	_ "github.com/hubhq/hub/plugins/echo"
	_ "github.com/hubhq/hub/plugins/exec"
)

func main() { os.Exit(cli.Main()) }
