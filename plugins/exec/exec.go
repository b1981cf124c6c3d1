package exec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubhq/hub/core"
)

// Defaults for the zero values of Config.
const (
	DefaultEventTimeout     = 30 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultRestartMin       = 100 * time.Millisecond
	DefaultRestartMax       = 30 * time.Second
	DefaultStopGrace        = 2 * time.Second
)

// ErrProtocol is a handshake the hub cannot accept: the plugin speaks
// another protocol version, or answered something else. It is permanent:
// the process is not restarted, and every scope of the plugin ends with it.
var ErrProtocol = errors.New("exec: protocol mismatch")

// ErrClosed is returned for scopes served after Close.
var ErrClosed = errors.New("exec: plugin closed")

// Config describes one external plugin.
type Config struct {
	// Name names the plugin in logs and in hub.hello, and is the namespace
	// of the state it keeps through state.get/state.set.
	Name string
	// Command is the program and its arguments: ["python3", "bots/echo.py"].
	Command []string
	// Dir is the working directory ("": the hub's).
	Dir string
	// Env is added to the hub's environment ("KEY=value").
	Env []string
	// EventTimeout is how long a scope waits for the plugin to acknowledge
	// an event before it logs it and moves on to the next one.
	EventTimeout time.Duration
	// HandshakeTimeout bounds the wait for plugin.hello after a start.
	HandshakeTimeout time.Duration
	// Restart is the backoff between a crash and the next start.
	Restart Backoff
	// StopGrace is how long Close waits for the plugin to exit once its
	// stdin is closed before killing it.
	StopGrace time.Duration
	Logger    *slog.Logger // nil: slog.Default()
}

// Backoff is an exponential restart delay: Min after the first crash,
// doubling to at most Max; a process that ran longer than Max before it
// crashed starts the sequence again.
type Backoff struct{ Min, Max time.Duration }

// Stats count what went wrong with a plugin; read them with Plugin.Stats.
type Stats struct {
	Starts       int64 // processes started
	Restarts     int64 // starts after a crash or exit
	InvalidLines int64 // lines from the plugin that were not protocol messages
	Timeouts     int64 // events not acknowledged within EventTimeout
	Lost         int64 // events the process may have read, unacknowledged, when it died
	Dropped      int64 // actions for no live scope, or beyond a scope's queue
}

// Plugin is an external process serving every scope routed to it, one
// process for all of them, multiplexed by scope key. It is a
// core.Application; Close stops the process.
type Plugin struct {
	cfg Config
	log *slog.Logger

	starts, restarts, invalid, timeouts, lost, dropped atomic.Int64

	mu       sync.Mutex
	scopes   map[string]*conn // live scopes by key
	cur      *proc            // the running process, nil while down
	fatal    error            // a permanent failure: ErrProtocol or ErrClosed
	lastErr  error            // why the last start or run failed
	attempts int              // finished start attempts
	changed  chan struct{}    // closed and replaced when the fields above change
	running  bool             // the supervisor was started
	stop     context.CancelFunc
	done     chan struct{} // closed when the supervisor returns
}

// New checks cfg and returns the plugin. No process starts until the first
// scope arrives or Start is called, so building a config does not spawn
// anything.
func New(cfg Config) (*Plugin, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("exec: a command is required")
	}
	if cfg.Name == "" {
		cfg.Name = "exec"
	}
	setDefault(&cfg.EventTimeout, DefaultEventTimeout)
	setDefault(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&cfg.Restart.Min, DefaultRestartMin)
	setDefault(&cfg.Restart.Max, DefaultRestartMax)
	setDefault(&cfg.StopGrace, DefaultStopGrace)
	if cfg.Restart.Max < cfg.Restart.Min {
		return nil, fmt.Errorf("exec: restart max %v is below min %v", cfg.Restart.Max, cfg.Restart.Min)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Plugin{cfg: cfg, log: log.With("plugin", cfg.Name), scopes: make(map[string]*conn),
		changed: make(chan struct{}), done: make(chan struct{})}, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Start starts the process if it is not running and waits for the outcome
// of its first start: nil once it has answered the handshake, else why it
// failed (an ErrProtocol is permanent; other failures are retried with
// backoff meanwhile). The hub may call it at startup to fail fast; without
// it the first scope starts the process.
func (p *Plugin) Start(ctx context.Context) error {
	p.mu.Lock()
	p.launch()
	attempts := p.attempts
	p.mu.Unlock()
	for {
		p.mu.Lock()
		cur, fatal, lastErr, n, changed := p.cur, p.fatal, p.lastErr, p.attempts, p.changed
		p.mu.Unlock()
		switch {
		case fatal != nil:
			return fatal
		case cur != nil:
			return nil
		case n > attempts:
			return lastErr
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// launch starts the supervisor once; p.mu is held.
func (p *Plugin) launch() {
	if p.running || p.fatal != nil {
		return
	}
	p.running = true
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	go p.supervise(ctx)
}

// Close stops the process (stdin is closed, then it is killed after
// StopGrace) and ends every scope still served with ErrClosed.
func (p *Plugin) Close() error {
	p.mu.Lock()
	running := p.running
	p.fail(ErrClosed)
	p.mu.Unlock()
	if running {
		p.stop()
		<-p.done
	}
	return nil
}

// fail records a permanent failure; p.mu is held.
func (p *Plugin) fail(err error) {
	if p.fatal == nil {
		p.fatal = err
		p.notify()
	}
}

// notify wakes everyone waiting for a change; p.mu is held.
func (p *Plugin) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Stats returns the plugin's counters.
func (p *Plugin) Stats() Stats {
	return Stats{Starts: p.starts.Load(), Restarts: p.restarts.Load(), InvalidLines: p.invalid.Load(),
		Timeouts: p.timeouts.Load(), Lost: p.lost.Load(), Dropped: p.dropped.Load()}
}

// process waits for a running process; the error is permanent (or ctx's).
func (p *Plugin) process(ctx context.Context) (*proc, error) {
	for {
		p.mu.Lock()
		p.launch()
		cur, fatal, changed := p.cur, p.fatal, p.changed
		p.mu.Unlock()
		if fatal != nil {
			return nil, fatal
		}
		if cur != nil && !cur.exited() {
			return cur, nil
		}
		// Down, or dead and about to be replaced: an event written now
		// would only be lost.
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// supervise runs the process, restarting it with backoff, until Close or a
// permanent failure.
func (p *Plugin) supervise(ctx context.Context) {
	defer close(p.done)
	delay := p.cfg.Restart.Min
	for n := 0; ; n++ {
		if n > 0 {
			p.restarts.Add(1)
		}
		began := time.Now()
		err := p.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrProtocol) {
			p.log.Error("exec: plugin refused; not restarting", "err", err)
			p.mu.Lock()
			p.fail(err)
			p.mu.Unlock()
			return
		}
		if time.Since(began) > p.cfg.Restart.Max {
			delay = p.cfg.Restart.Min
		}
		p.log.Warn("exec: plugin stopped; restarting", "err", err, "in", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		delay = min(2*delay, p.cfg.Restart.Max)
	}
}

// runOnce starts one process, publishes it once it has shaken hands, and
// returns why it ended.
func (p *Plugin) runOnce(ctx context.Context) error {
	pr, err := p.spawn(ctx)
	if err == nil {
		p.starts.Add(1)
		err = pr.handshake(ctx)
		if err == nil {
			p.publish(pr, nil)
			<-pr.dead
			err = pr.exitErr()
		} else {
			pr.kill()
			<-pr.dead
		}
	}
	p.publish(nil, err)
	return err
}

// publish makes pr the running process (nil: none) and records err.
func (p *Plugin) publish(pr *proc, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = pr
	if pr == nil {
		p.lastErr = err
		p.attempts++
	}
	p.notify()
}

// Serve implements core.Application: it forwards the scope's events to the
// process one at a time and performs the actions the process sends back.
func (p *Plugin) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	c := p.register(scope.Key)
	defer p.unregister(c)
	s := &session{p: p, c: c, scope: scope, wire: scopeOf(scope), state: scope.State, send: send}
	if s.state != nil {
		s.state = s.state.Namespace(p.cfg.Name)
	}
	defer s.farewell()
	return s.serve(ctx, inbox)
}

// register makes a scope reachable by the actions the process sends for
// its key. A second live scope under one key (an adapter reopening a
// conversation before the old instance has returned) takes the key over.
func (p *Plugin) register(key string) *conn {
	c := &conn{key: key, wake: make(chan struct{}, 1)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.scopes[key]; dup {
		p.log.Warn("exec: scope key served twice; the newer instance takes it", "scope", key)
	}
	p.scopes[key] = c
	return c
}

func (p *Plugin) unregister(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.scopes[c.key] == c {
		delete(p.scopes, c.key)
	}
}

func (p *Plugin) lookup(key string) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.scopes[key]
}
