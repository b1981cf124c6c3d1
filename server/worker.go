package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/store"
)

// Worker serves fixed channel names (routes.channel) from the channel layer,
// as Channels' runworker: every Send to "thumbnails", from any process on
// the same Redis or NATS, reaches the consumer routed to it. Several workers
// on one layer share a channel's messages, each handled by one of them.
type Worker struct {
	cfg      *config.Config
	log      *slog.Logger
	layer    layer.Layer
	db       *store.DB
	rt       *core.Runtime
	plugins  consumerSet
	channels []string
	listen   string
}

// WorkerOptions say what a worker serves.
type WorkerOptions struct {
	// Channels are the channel names to serve; empty: every routed channel.
	Channels []string
	// Listen, if set, serves /metrics and /healthz there (the worker's own
	// address: the config's listen belongs to `hub run`).
	Listen string
}

// NewWorker builds a worker. Like New, it fails on config problems before
// it opens anything.
func NewWorker(cfg *config.Config, logger *slog.Logger, opts WorkerOptions) (*Worker, error) {
	if logger == nil {
		logger = slog.Default()
	}
	channels := opts.Channels
	b := newBuilder(cfg, nil)
	router, routed, err := channelApp(b)
	if err == nil {
		err = checkChannels(cfg, channels, routed)
	}
	if err != nil {
		b.built.release()
		return nil, err
	}
	if len(channels) == 0 {
		channels = routed
	}
	w := &Worker{cfg: cfg, log: logger, channels: channels, listen: opts.Listen, plugins: b.built}
	if w.layer, err = NewLayer(context.Background(), cfg, logger); err != nil {
		w.plugins.release()
		return nil, err
	}
	if w.db, err = store.Open(cfg.Store); err != nil {
		w.plugins.release()
		w.layer.Close()
		return nil, fmt.Errorf("server: open store %s: %w", cfg.Store, err)
	}
	logReplay(logger, w.db.Replayed()) // a worker started first after a crash settles them
	w.rt = &core.Runtime{
		App:       router,
		Layer:     w.layer,
		Store:     w.db,
		InboxSize: cfg.Inbox.Size,
		Policy:    cfg.Inbox.Policy,
		Logger:    logger.With("protocol", "channel"),
		Metrics:   new(core.Metrics),
	}
	return w, nil
}

// checkChannels checks that a worker has channels to serve, routed ones,
// on a layer other processes reach.
func checkChannels(cfg *config.Config, channels, routed []string) error {
	if len(channels) == 0 && len(routed) == 0 {
		return cfg.Errorf("routes", "no routes.channel to serve: a worker needs at least one (channel: thumbnails, consumer: NAME)")
	}
	for _, ch := range channels {
		if !slices.Contains(routed, ch) {
			return cfg.Errorf("routes", "no routes.channel entry for channel %q (routed: %s)", ch, strings.Join(routed, ", "))
		}
	}
	if b := cfg.Layer.Backend(); b == config.LayerNone || b == config.LayerMemory {
		// A memory layer lives in one process: nothing outside the worker
		// could ever send to it.
		return cfg.Errorf("layer", "a worker needs a layer other processes reach (redis:// or nats://), not %s", b)
	}
	return nil
}

// channelApp builds the ChannelNameRouter of routes.channel and lists the
// routed names in config order.
func channelApp(b *builder) (core.ChannelNameRouter, []string, error) {
	router := core.ChannelNameRouter{}
	var names []string
	for i, r := range b.cfg.Routes.Channel {
		app, err := b.consumer(fmt.Sprintf("routes.channel[%d]", i), "channel "+r.Channel, r.Consumer, r.Options)
		if err != nil {
			return nil, nil, err
		}
		router[r.Channel] = app
		names = append(names, r.Channel)
	}
	return router, names, nil
}

// Channels are the channel names the worker serves.
func (w *Worker) Channels() []string { return slices.Clone(w.channels) }

// Run serves the channels until ctx ends, then stops the plugins and closes
// the layer and the store.
func (w *Worker) Run(ctx context.Context) error {
	stopHTTP, err := w.serveMetrics()
	if err != nil {
		w.Close()
		return err
	}
	w.plugins.start(plugins.Env{Layer: w.layer, Store: w.db, Log: w.log})
	w.log.Info("worker ready", "channels", strings.Join(w.channels, ","), "layer", w.cfg.Layer.String(), "store", w.cfg.Store)
	err = core.RunWorker(ctx, w.rt, w.channels...)
	stopHTTP()
	if cerr := w.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err == nil {
		w.log.Info("stopped")
	}
	return err
}

// serveMetrics serves /metrics and /healthz on the Listen address, if any,
// until the returned func is called.
func (w *Worker) serveMetrics() (stop func(), err error) {
	if w.listen == "" {
		return func() {}, nil
	}
	r := newRegistry()
	r.runtime("channel", w.rt.Metrics)
	r.consumers()
	r.store(w.db)
	r.layer(w.cfg.Layer.Backend(), w.layer)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.handler(w.log))
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprintln(rw, "ok") })
	ln, err := net.Listen("tcp", w.listen)
	if err != nil {
		return nil, fmt.Errorf("server: worker listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
	go srv.Serve(ln)
	w.log.Info("listening", "addr", ln.Addr().String(), "serves", "/metrics /healthz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// Close stops and closes the plugins and releases the layer and the store,
// for a worker that never ran.
func (w *Worker) Close() error {
	errs := []error{w.plugins.release()}
	if err := w.layer.Close(); err != nil {
		errs = append(errs, fmt.Errorf("server: close layer: %w", err))
	}
	if err := w.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("server: close store: %w", err))
	}
	return errors.Join(errs...)
}
