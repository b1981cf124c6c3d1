// Package cli is the hub command line as a library, so that a project with
// its own plugins gets the whole `hub` binary from a one-line main:
//
//	package main
//
//	import (
//		"os"
//
//		"github.com/hubhq/hub/cmd/hub/cli"
//		_ "github.com/hubhq/hub/plugins/chatroom"
//		_ "example.com/myhub/plugins/weather" // registers "weather"
//	)
//
//	func main() { os.Exit(cli.Main()) }
//
// `hub init plugin NAME` scaffolds such a project: a plugin, its hubtest
// test, this main and a hub.yaml that routes to it. `hub doctor` checks a
// config before `hub run` does.
//
// Exit codes: 0 on success (a signalled shutdown included), 1 when the hub
// fails while running, 2 for a broken config or a usage mistake.
package cli
