package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubhq/hub/adapters/mqtt/broker"
	"github.com/hubhq/hub/adapters/websocket"
	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/store"
)

// shutdownGrace bounds a graceful shutdown: how long plain HTTP requests and
// consumers get to finish once sockets are closed.
const shutdownGrace = 10 * time.Second

// readHeaderTimeout drops clients that open a connection and never finish
// their request headers (slowloris).
const readHeaderTimeout = 10 * time.Second

// Server is one hub: everything a config describes, ready to Run.
type Server struct {
	cfg      *config.Config // as started: settings a reload cannot change are read here
	log      *slog.Logger
	db       *store.DB
	layer    layer.Layer // nil when the config says layer: none
	runtimes runtimes
	ws       *websocket.Adapter
	broker   *broker.Broker // the embedded MQTT broker, if on
	// brokerUser and brokerPassword are the hub's own login to its
	// embedded broker, made up for this run.
	brokerUser, brokerPassword string
	http                       *http.Server

	metricsHandler http.Handler

	// What a reload swaps: new scopes and requests see the new value.
	routes atomic.Pointer[routing]
	mux    atomic.Pointer[http.ServeMux]

	// reloading guards the fields below, which Run, Reload and Close change.
	reloading sync.Mutex
	phase     phase
	current   *config.Config // the config last applied
	units     units          // bots and broker connections
	failed    chan error     // a unit started with the hub, or the broker, stopped on its own

	mu        sync.Mutex
	ln        net.Listener
	brokerRan bool // Run took over the embedded broker

	closeOnce sync.Once
	closeErr  error
}

// New builds the hub that cfg describes. Routing problems (an unknown plugin,
// options a plugin refuses) are returned as *config.Error at their line;
// nothing is left open when New fails. A nil logger means slog.Default().
func New(cfg *config.Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: logger, current: cfg}
	// Build everything that can fail on config first, so that a typo does
	// not create a database file or connect to a broker.
	r, err := newRouting(cfg, nil)
	if err != nil {
		return nil, err
	}
	s.routes.Store(r)
	mux, err := s.newMux(cfg)
	if err != nil {
		s.Close()
		return nil, err
	}
	if s.layer, err = NewLayer(context.Background(), cfg, logger); err != nil {
		s.Close()
		return nil, err
	}
	if s.db, err = store.Open(cfg.Store); err != nil {
		s.Close()
		return nil, fmt.Errorf("server: open store %s: %w", cfg.Store, err)
	}
	logReplay(logger, s.db.Replayed())
	s.runtimes = s.newRuntimes()
	if err := s.startBroker(); err != nil {
		s.Close()
		return nil, err
	}
	if s.units, err = s.newUnits(cfg, r); err == nil {
		err = mountWebhooks(cfg, mux, s.units)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.mux.Store(mux)
	w := cfg.WebSocket
	s.ws = websocket.New(s.runtimes.websocket, websocket.Options{
		MaxMessageSize:   int64(w.MaxMessageSize),
		PingInterval:     w.PingInterval,
		PongTimeout:      w.PongTimeout,
		HandshakeTimeout: w.HandshakeTimeout,
		CloseTimeout:     w.CloseTimeout,
		WriteQueue:       w.WriteQueue,
		WriteTimeout:     w.WriteTimeout,
		Logger:           logger.With("adapter", "websocket"),
	})
	s.metricsHandler = s.newMetricsHandler()
	s.http = &http.Server{
		Handler:           s.ws.Wrap(http.HandlerFunc(s.serveMux)),
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// phase is where a Server is in its life: a reload may come in any but
// the last.
type phase int

const (
	built   phase = iota // New returned; nothing runs yet
	running              // Run has started the services and the units
	stopped              // shutting down, or closed
)

// serveMux serves a request with the mux of the config last applied.
func (s *Server) serveMux(w http.ResponseWriter, r *http.Request) {
	s.mux.Load().ServeHTTP(w, r)
}

// runtimes are the core.Runtime of each protocol, shared by all of its
// adapters (every bot of a platform, every broker), with metrics of their
// own. Their application is live: it follows reloads.
type runtimes struct {
	websocket, mqtt, telegram, discord *core.Runtime
}

func (s *Server) newRuntimes() runtimes {
	rt := func(protocol string, pick func(*routing) core.Application) *core.Runtime {
		return &core.Runtime{
			App:       live{&s.routes, pick},
			Layer:     s.layer,
			Store:     s.db,
			InboxSize: s.cfg.Inbox.Size,
			Policy:    s.cfg.Inbox.Policy,
			Logger:    s.log.With("protocol", protocol),
			Metrics:   new(core.Metrics),
		}
	}
	return runtimes{
		websocket: rt("websocket", func(r *routing) core.Application { return r.websocket }),
		mqtt:      rt("mqtt", func(r *routing) core.Application { return r.mqtt }),
		telegram:  rt("telegram", func(r *routing) core.Application { return r.telegram }),
		discord:   rt("discord", func(r *routing) core.Application { return r.discord }),
	}
}

// each lists the runtimes in the order /metrics shows them.
func (r runtimes) each() []protocolRuntime {
	return []protocolRuntime{{"websocket", r.websocket}, {"mqtt", r.mqtt}, {"telegram", r.telegram}, {"discord", r.discord}}
}

type protocolRuntime struct {
	protocol string
	rt       *core.Runtime
}

// env is what the plugins' services get (Log gains the plugin's name).
func (s *Server) env() plugins.Env {
	return plugins.Env{Layer: s.layer, Store: s.db, Log: s.log}
}

// Listen opens the listening socket, so that Addr is known before Run
// (tests use listen: 127.0.0.1:0). Run calls it if it has not been called.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	s.ln = ln
	return nil
}

// Addr is the address the server listens on ("127.0.0.1:41234"), or "" before
// Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Handler is the server's whole HTTP handler (WebSocket upgrades, plugin
// pages, /healthz, /metrics), for tests with net/http/httptest.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Run serves until ctx ends, then shuts down gracefully: WebSockets are
// closed with 1001 (going away), the layer is closed and the store flushed.
// It returns nil after a clean shutdown. The Server cannot be run twice.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		s.Close()
		return err
	}
	addr := s.Addr()
	if n := len(s.cfg.Routes.Channel); n > 0 {
		s.log.Info("routes.channel are served by `hub worker`, not here", "channels", n)
	}
	s.log.Info("listening", "addr", addr, "url", "http://"+addr+"/", "store", s.cfg.Store, "layer", s.cfg.Layer.String())
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.ln) }()
	stopBroker := s.startBackground()
	var failure error
	serving := true
	select {
	case err := <-served:
		failure, serving = fmt.Errorf("server: serve: %w", err), false
	case err := <-s.failed:
		failure = err
	case <-ctx.Done():
	}
	if failure != nil {
		s.log.Error("shutting down after a failure", "err", failure)
	} else {
		s.log.Info("shutting down", "websockets", s.ws.Conns())
	}
	err := s.shutdown(stopBroker)
	if serving {
		<-served // Serve returns ErrServerClosed once Shutdown has begun
	}
	if err == nil && failure == nil {
		s.log.Info("stopped")
	}
	return errors.Join(failure, err)
}

// startBackground starts what runs beside the HTTP server: the plugins'
// services, the embedded broker and the units (bots, broker connections).
// The broker or a unit stopping on its own stops the hub. The returned func
// stops the broker.
func (s *Server) startBackground() (stopBroker func() error) {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	// Services start once the store and the layer they use are open, and
	// stop (in Close) only after the last scope has ended.
	s.routes.Load().consumers.start(s.env())
	s.failed = make(chan error, len(s.units)+1)
	stopBroker = func() error { return nil }
	if s.broker != nil {
		// The broker outlives Run's context until shutdown stops it, so
		// that no consumer loses its connection under it.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		s.brokerRan = true
		go func() {
			err := s.broker.Run(ctx)
			if ctx.Err() == nil { // on its own: Run reports it, once
				s.failed <- fmt.Errorf("server: embedded MQTT broker stopped: %w", orStopped(err))
				err = nil
			}
			done <- err
		}()
		stopBroker = func() error {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("server: embedded MQTT broker: %w", err)
			}
			return nil
		}
	}
	fatal := func(err error) { s.failed <- err }
	for _, u := range s.units {
		u.start(fatal)
	}
	s.phase = running
	return stopBroker
}

// stopUnits ends every unit, all at once, and refuses reloads from then on.
func (s *Server) stopUnits() error {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	wasRunning := s.phase == running
	s.phase = stopped
	if !wasRunning {
		return nil
	}
	return haltAll(slices.Collect(maps.Values(s.units)))
}

func (s *Server) shutdown(stopBroker func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var errs []error
	// Stop accepting first, so that no socket arrives after the adapter has
	// closed the others; hijacked WebSockets are not waited for here.
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("server: http shutdown: %w", err))
	}
	if err := s.ws.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("server: websocket shutdown: %w", err))
	}
	// The units before the broker they may be connected to.
	errs = append(errs, s.stopUnits(), stopBroker(), s.Close())
	return errors.Join(errs...)
}

// Close stops the plugins' services and closes the plugins that hold
// resources, releases the layer and flushes and closes the store, without
// the graceful part of Run; for a Server that was built but never run. It
// is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.reloading.Lock()
		s.phase = stopped
		s.reloading.Unlock()
		s.mu.Lock()
		if s.ln != nil {
			s.ln.Close() // Serve may never have taken it over
		}
		s.mu.Unlock()
		var errs []error
		if s.broker != nil && !s.brokerRan {
			// A broker that never ran still holds its port: running it
			// with an ended context closes it.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			s.broker.Run(ctx)
		}
		if r := s.routes.Load(); r != nil {
			errs = append(errs, r.consumers.release())
		}
		if err := s.closeLayer(); err != nil {
			errs = append(errs, err)
		}
		if s.db != nil {
			if err := s.db.Close(); err != nil {
				errs = append(errs, fmt.Errorf("server: close store: %w", err))
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Server) closeLayer() error {
	if s.layer == nil {
		return nil
	}
	if err := s.layer.Close(); err != nil {
		return fmt.Errorf("server: close layer: %w", err)
	}
	return nil
}

// logReplay says what the store's attempt journal settled at start: the
// bot calls the last run left in flight when it died.
func logReplay(log *slog.Logger, r store.Replay) {
	if r == (store.Replay{}) {
		return
	}
	args := []any{"answered", r.Answered, "in_doubt", r.InDoubt, "witnessed", r.Witnessed, "made_again", r.Again}
	if r.Unwitnessed > 0 {
		log.Warn("calls in flight at the last stop settled; some were caught at their last write with no witness and may be repeated",
			append(args, "unwitnessed", r.Unwitnessed)...)
		return
	}
	log.Info("calls in flight at the last stop settled: none lost, none repeated", args...)
}
