package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins"
)

// consumer is one consumer the server built for a route, with its
// lifecycle: a plugins.Service runs beside the hub from start until stop,
// an io.Closer is closed once no route uses it.
type consumer struct {
	name string           // the registered plugin name, for logs
	app  core.Application // as plugins.New made it

	stop context.CancelFunc // ends the Service's Run; nil while not running
	done chan struct{}      // closed when Run has returned
}

// start runs the consumer's Service, if it is one and not yet running,
// until halt. An error or a panic in Run is logged: a plugin's own work
// failing is no reason to stop the hub.
func (c *consumer) start(env plugins.Env) {
	svc, ok := c.app.(plugins.Service)
	if !ok || c.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		err := runService(ctx, svc, env)
		switch {
		case err != nil && ctx.Err() == nil:
			env.Log.Error("plugin service failed; the hub keeps running without it", "err", err)
		case ctx.Err() == nil:
			env.Log.Warn("plugin service returned before the hub stopped")
		}
	}()
}

// runService is svc.Run with a panic turned into an error.
func runService(ctx context.Context, svc plugins.Service, env plugins.Env) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return svc.Run(ctx, env)
}

// halt cancels the Service's Run and waits for it to return.
func (c *consumer) halt() {
	if c.stop == nil {
		return
	}
	c.stop()
	<-c.done
	c.stop = nil
}

// close releases what the consumer holds (an exec plugin's process).
func (c *consumer) close() error {
	cl, ok := c.app.(io.Closer)
	if !ok {
		return nil
	}
	if err := cl.Close(); err != nil {
		return fmt.Errorf("server: close plugin %s: %w", c.name, err)
	}
	return nil
}

// consumerSet are the consumers of one build of a config's routes, by route
// key (see builder.consumer).
type consumerSet map[string]*consumer

// start runs every Service among them that is not running yet, each with
// env and its own name in env.Log.
func (cs consumerSet) start(env plugins.Env) {
	for _, c := range cs {
		e := env
		e.Log = env.Log.With("plugin", c.name)
		c.start(e)
	}
}

// release halts the Services among them, then closes the Closers.
func (cs consumerSet) release() error {
	for _, c := range cs {
		c.halt()
	}
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.close())
	}
	return errors.Join(errs...)
}

// builder builds the consumers of one config's routes. A route whose key
// an older build has as well gets that build's consumer back, so that a
// reload leaves it as it is: an exec plugin keeps its process, a Service
// keeps running.
type builder struct {
	cfg   *config.Config
	old   consumerSet
	built consumerSet
}

func newBuilder(cfg *config.Config, old consumerSet) *builder {
	return &builder{cfg: cfg, old: old, built: consumerSet{}}
}

// consumer builds (or reuses) the consumer of the route at path at. match
// says what the route matches ("websocket /ws/chat/{room}/"): with the
// consumer's name and options it is the route's key, so a route that
// changed any of them gets a fresh consumer.
func (b *builder) consumer(at, match, name string, opts map[string]any) (core.Application, error) {
	raw, err := json.Marshal(opts) // map keys sorted: equal options, equal key
	if err != nil {
		return nil, b.cfg.Errorf(at+".options", "%v", err)
	}
	key := match + "\x00" + name + "\x00" + string(raw)
	c, ok := b.built[key]
	if !ok {
		c, ok = b.old[key]
	}
	if !ok {
		app, err := plugins.New(name, plugins.Options(opts))
		if err != nil {
			return nil, b.cfg.Errorf(at+".consumer", "%v", err)
		}
		c = &consumer{name: name, app: app}
	}
	b.built[key] = c
	return core.Named(name, c.app), nil
}

// without are the consumers of cs that other does not have.
func (cs consumerSet) without(other consumerSet) consumerSet {
	in := make(map[*consumer]bool, len(other))
	for _, c := range other {
		in[c] = true
	}
	out := consumerSet{}
	for k, c := range cs {
		if !in[c] {
			out[k] = c
		}
	}
	return out
}
