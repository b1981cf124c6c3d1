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

	"github.com/hubhq/hub/adapters/websocket"
	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
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
	cfg     *config.Config
	log     *slog.Logger
	db      *store.DB
	layer   layer.Layer // nil when the config says layer: none
	metrics *core.Metrics
	ws      *websocket.Adapter
	http    *http.Server

	metricsHandler http.Handler

	mu sync.Mutex
	ln net.Listener

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
	s := &Server{cfg: cfg, log: logger, metrics: new(core.Metrics)}
	// Build everything that can fail on config first, so that a typo does
	// not create a database file or connect to a broker.
	app, err := websocketApp(cfg)
	if err != nil {
		return nil, err
	}
	mux, err := s.mux()
	if err != nil {
		return nil, err
	}
	if s.layer, err = NewLayer(context.Background(), cfg, logger); err != nil {
		return nil, err
	}
	if s.db, err = store.Open(cfg.Store); err != nil {
		s.closeLayer()
		return nil, fmt.Errorf("server: open store %s: %w", cfg.Store, err)
	}
	rt := &core.Runtime{
		App:       app,
		Layer:     s.layer,
		Store:     s.db,
		InboxSize: cfg.Inbox.Size,
		Policy:    cfg.Inbox.Policy,
		Logger:    logger.With("protocol", "websocket"),
		Metrics:   s.metrics,
	}
	w := cfg.WebSocket
	s.ws = websocket.New(rt, websocket.Options{
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
	s.log.Info("listening", "addr", addr, "url", "http://"+addr+"/", "store", s.cfg.Store, "layer", s.cfg.Layer.String())
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.ln) }()
	select {
	case err := <-served:
		s.Close()
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "websockets", s.ws.Conns())
	err := s.shutdown()
	<-served // Serve returns ErrServerClosed once Shutdown has begun
	if err == nil {
		s.log.Info("stopped")
	}
	return err
}

func (s *Server) shutdown() error {
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
	errs = append(errs, s.Close())
	return errors.Join(errs...)
}

// Close releases the layer and flushes and closes the store, without the
// graceful part of Run; for a Server that was built but never run. It is
// idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		if s.ln != nil {
			s.ln.Close() // Serve may never have taken it over
		}
		s.mu.Unlock()
		var errs []error
		if err := s.closeLayer(); err != nil {
			errs = append(errs, err)
		}
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("server: close store: %w", err))
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
