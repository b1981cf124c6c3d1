package plugins

import (
	"context"
	"log/slog"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/store"
)

// A Service is a consumer with work of its own beside its conversations,
// such as the bridge's relay, which listens to a room's group for as long
// as the hub runs. The hub calls Run once per route that builds it, after
// the store and the layer are open, and cancels ctx when the hub stops or
// a reload drops the route. An error is logged; the hub keeps running.
type Service interface {
	Run(ctx context.Context, env Env) error
}

// Env is what a Service may use.
type Env struct {
	Layer layer.Layer // nil when the hub runs with layer: none
	Store *store.DB
	Log   *slog.Logger // already names the plugin
}

// A consumer that holds resources (processes, connections) implements
// io.Closer as well: the hub closes it once no route uses it any more, at
// shutdown or after a reload that dropped it.
