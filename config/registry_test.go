package config

import (
	"context"
	"net/http"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins"
)

// The tests' plugins, so that config is tested without the bundled ones.
func init() {
	nop := core.AppFunc(func(ctx context.Context, _ *core.Scope, _ core.Inbox, _ core.SendFunc) error { return nil })
	plugins.Register("chatroom", nop)
	plugins.Register("echo", nop)
	plugins.RegisterHandler("chatroom", http.NotFoundHandler())
}
