package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
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
	cfg      *config.Config
	log      *slog.Logger
	db       *store.DB
	layer    layer.Layer       // nil when the config says layer: none
	runtimes []protocolRuntime // one per protocol, in the order /metrics lists them
	ws       *websocket.Adapter
	broker   *broker.Broker // the embedded MQTT broker, if on
	adapters []adapter      // protocol adapters Run starts beside the HTTP server
	routes   *routing       // the routers and the consumers they lead to
	http     *http.Server

	metricsHandler http.Handler

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
	s := &Server{cfg: cfg, log: logger}
	// Build everything that can fail on config first, so that a typo does
	// not create a database file or connect to a broker.
	mux, err := s.mux()
	if err != nil {
		return nil, err
	}
	if s.routes, err = newRouting(cfg, nil); err != nil {
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
	if err := s.startMQTT(s.routes.mqtt); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.startTelegram(s.routes.telegram, mux); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.startDiscord(s.routes.discord); err != nil {
		s.Close()
		return nil, err
	}
	w := cfg.WebSocket
	s.ws = websocket.New(s.runtime("websocket", s.routes.websocket), websocket.Options{
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
		Handler:           s.ws.Wrap(mux),
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// adapter is a protocol adapter that runs until its context ends.
type adapter struct {
	name string
	run  func(context.Context) error
}

// runtime makes the core.Runtime of one protocol, with the settings every
// protocol shares and metrics of its own.
func (s *Server) runtime(protocol string, app core.Application) *core.Runtime {
	rt := &core.Runtime{
		App:       app,
		Layer:     s.layer,
		Store:     s.db,
		InboxSize: s.cfg.Inbox.Size,
		Policy:    s.cfg.Inbox.Policy,
		Logger:    s.log.With("protocol", protocol),
		Metrics:   new(core.Metrics),
	}
	s.runtimes = append(s.runtimes, protocolRuntime{protocol, rt})
	return rt
}

type protocolRuntime struct {
	protocol string
	rt       *core.Runtime
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
	// Plugin services start once the store and the layer they use are
	// open, and stop (in Close) only after the last scope has ended.
	s.routes.consumers.start(serviceEnv(plugins.Env{Layer: s.layer, Store: s.db}, s.log))
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.ln) }()
	bg := s.startBackground()
	var failure error
	serving := true
	select {
	case err := <-served:
		failure, serving = fmt.Errorf("server: serve: %w", err), false
	case err := <-bg.failed:
		failure = err
	case <-ctx.Done():
	}
	if failure != nil {
		s.log.Error("shutting down after a failure", "err", failure)
	} else {
		s.log.Info("shutting down", "websockets", s.ws.Conns())
	}
	err := s.shutdown(bg)
	if serving {
		<-served // Serve returns ErrServerClosed once Shutdown has begun
	}
	if err == nil && failure == nil {
		s.log.Info("stopped")
	}
	return errors.Join(failure, err)
}

// background are the goroutines Run starts beside the HTTP server: the
// protocol adapters and the embedded broker, stopped in that order.
type background struct {
	stopAdapters, stopBroker context.CancelFunc
	adapters, brokerDone     chan error
	failed                   chan error // an adapter or the broker ended before its time
	n                        int        // adapters running
}

func (s *Server) startBackground() *background {
	bg := &background{failed: make(chan error, len(s.adapters)+1), brokerDone: make(chan error, 1), adapters: make(chan error, len(s.adapters))}
	// Adapters and the broker outlive Run's context until shutdown stops
	// them, so that no consumer loses its layer or store under it.
	var bctx, actx context.Context
	bctx, bg.stopBroker = context.WithCancel(context.Background())
	actx, bg.stopAdapters = context.WithCancel(context.Background())
	if s.broker != nil {
		s.brokerRan = true
		go func() {
			err := s.broker.Run(bctx)
			if bctx.Err() == nil { // on its own: Run reports it, once
				bg.failed <- fmt.Errorf("server: embedded MQTT broker stopped: %w", orStopped(err))
				err = nil
			}
			bg.brokerDone <- err
		}()
	} else {
		bg.brokerDone <- nil
	}
	for _, a := range s.adapters {
		bg.n++
		go func() {
			err := a.run(actx)
			switch {
			case actx.Err() == nil: // on its own: Run reports it, once
				bg.failed <- fmt.Errorf("server: %s adapter stopped: %w", a.name, orStopped(err))
				err = nil
			case err != nil:
				err = fmt.Errorf("server: %s adapter: %w", a.name, err)
			}
			bg.adapters <- err
		}()
	}
	return bg
}

func orStopped(err error) error {
	if err == nil {
		return errors.New("returned early")
	}
	return err
}

// stop ends the adapters, then the broker they may be connected to.
func (bg *background) stop() error {
	var errs []error
	bg.stopAdapters()
	for range bg.n {
		if err := <-bg.adapters; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	bg.stopBroker()
	if err := <-bg.brokerDone; err != nil && !errors.Is(err, context.Canceled) {
		errs = append(errs, fmt.Errorf("server: embedded MQTT broker: %w", err))
	}
	return errors.Join(errs...)
}

func (s *Server) shutdown(bg *background) error {
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
	errs = append(errs, bg.stop(), s.Close())
	return errors.Join(errs...)
}

// Close stops the plugins' services and closes the plugins that hold
// resources, releases the layer and flushes and closes the store, without
// the graceful part of Run; for a Server that was built but never run. It
// is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
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
		if s.routes != nil {
			errs = append(errs, s.routes.consumers.release())
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
