package config

import "github.com/hubhq/hub/plugins"

// The plugin registry is what consumer and handler names are checked
// against; tests register their own.

func consumerNames() []string { return plugins.Names() }

func handlerNames() []string { return plugins.HandlerNames() }

func hasHandler(name string) bool {
	_, ok := plugins.Handler(name)
	return ok
}
