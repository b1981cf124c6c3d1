package echo

import "github.com/hubhq/hub/plugins"

// The hub finds the plugin by this name in its config ("telegram: echo").
func init() { plugins.Register("echo", New()) }
