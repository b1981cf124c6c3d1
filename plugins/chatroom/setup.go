package chatroom

import (
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins"
)

// init registers the consumer (built from the config's options) and the
// page, both as "chatroom".
func init() {
	plugins.RegisterFactory(Name, func(opts plugins.Options) (core.Application, error) {
		var cfg Config
		if err := opts.Decode(&cfg); err != nil {
			return nil, err
		}
		return New(cfg), nil
	})
	plugins.RegisterHandler(Name, Page())
}
