package websocket

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/hubhq/hub/core"
	ws "github.com/hubhq/hub/core/websocket"
)

// Options tune the adapter; zero fields take the defaults, which follow
// Daphne's.
type Options struct {
	// MaxMessageSize is the largest message accepted from a client (default
	// 1 MiB); a bigger one closes the socket with 1009.
	MaxMessageSize int64
	// PingInterval is how often the server pings an open socket (default 20 s).
	PingInterval time.Duration
	// PongTimeout is how long a socket may stay silent (no pong, no frame)
	// before it is dropped (default 30 s). Keep it above PingInterval: an
	// idle socket is checked at each ping, so it goes within PongTimeout +
	// PingInterval.
	PongTimeout time.Duration
	// HandshakeTimeout is how long the application has to Accept or Close
	// a new connection (default 5 s); after it the client gets HTTP 504.
	HandshakeTimeout time.Duration
	// CloseTimeout is how long an application has to return after its
	// Disconnect before its context is cancelled (default 10 s).
	CloseTimeout time.Duration
	// WriteQueue is how many outgoing frames may wait per connection
	// (default 64); a client that lets it fill is closed with 1008.
	WriteQueue int
	// WriteTimeout bounds each write to a client (default 10 s).
	WriteTimeout time.Duration
	// Logger receives connection events (nil: the runtime's logger, else
	// slog.Default()).
	Logger *slog.Logger
}

// Defaults, as in Daphne where it has one.
const (
	DefaultMaxMessageSize   = 1 << 20
	DefaultPingInterval     = 20 * time.Second
	DefaultPongTimeout      = 30 * time.Second
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultCloseTimeout     = 10 * time.Second
	DefaultWriteQueue       = 64
	DefaultWriteTimeout     = 10 * time.Second
)

const (
	// parkAfter is how long a socket that has just sent a message keeps its
	// reader waiting for the next before it is parked (at least half of it;
	// see awaitMore).
	parkAfter = 10 * time.Millisecond
	// closeWait bounds how long a socket waits for the client's answer to a
	// close frame (capped by CloseTimeout).
	closeWait = 2 * time.Second
)

func (o Options) withDefaults() Options {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = DefaultPongTimeout
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.WriteQueue <= 0 {
		o.WriteQueue = DefaultWriteQueue
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	return o
}

// Adapter serves WebSocket connections, one scope each. It is an
// http.Handler; mount it where sockets are expected, or Wrap a handler to
// serve plain HTTP beside it.
type Adapter struct {
	rt       core.Runtime // the caller's runtime, its application watched
	opts     Options
	log      *slog.Logger
	upgrader gorilla.Upgrader

	// ctx is every instance's parent and every delivery's; it is cancelled
	// only when Shutdown runs out of time.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
	closing  chan struct{} // closed by Shutdown: handshakes give up
	wg       sync.WaitGroup

	pollStart, pollStop sync.Once
	poll                *poller // parks idle sockets; nil where unsupported
	pingStart, pingStop sync.Once
	ping                *pinger // pings open sockets
}

// pinger starts the pinger with the first open socket; it is nil once the
// adapter has shut down.
func (a *Adapter) pinger() *pinger {
	a.pingStart.Do(func() { a.ping = newPinger(a.opts.PingInterval) })
	return a.ping
}

// stopPinger stops the pinger, and keeps a new one from starting.
func (a *Adapter) stopPinger() {
	a.pingStart.Do(func() {})
	a.pingStop.Do(func() {
		if a.ping != nil {
			a.ping.halt()
		}
	})
}

// poller starts the poller with the first idle socket.
func (a *Adapter) poller() *poller {
	a.pollStart.Do(func() {
		p, err := newPoller()
		if err != nil {
			a.log.Debug("websocket: no poller; idle sockets keep their reader", "err", err)
			return
		}
		a.poll = p
	})
	return a.poll
}

// stopPoller stops the poller, and keeps a new one from starting.
func (a *Adapter) stopPoller() {
	a.pollStart.Do(func() {})
	a.pollStop.Do(func() {
		if a.poll != nil {
			a.poll.stop()
		}
	})
}

// New returns an adapter that runs one instance of rt's application per
// connection. rt should not be changed afterwards: the adapter keeps a copy
// (sharing its layer, store and metrics) whose application is wrapped to
// report when it returns.
func New(rt *core.Runtime, opts Options) *Adapter {
	if rt.Metrics == nil {
		rt.Metrics = new(core.Metrics) // shared by the copy, and set before any Start can race on it
	}
	opts = opts.withDefaults()
	log := opts.Logger
	if log == nil {
		log = rt.Logger
	}
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Adapter{
		rt:      *rt,
		opts:    opts,
		log:     log,
		ctx:     ctx,
		cancel:  cancel,
		conns:   make(map[*conn]struct{}),
		closing: make(chan struct{}),
	}
	a.rt.App = watched{rt.App}
	a.upgrader = gorilla.Upgrader{
		HandshakeTimeout: opts.WriteTimeout,
		// 0: gorilla reads through the adapter's own bufio.Reader (see hijacker).
		ReadBufferSize:  0,
		WriteBufferPool: new(sync.Pool),
		// The application decides on origins (websocket.OriginValidator),
		// so the upgrade itself accepts every one.
		CheckOrigin: func(*http.Request) bool { return true },
		// Never echo gorilla's reason to the client: a short status is enough.
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			a.log.Debug("websocket: handshake refused", "status", status, "err", reason)
			http.Error(w, http.StatusText(status), status)
		},
	}
	return a
}

// Wrap returns a handler that sends WebSocket handshakes to the adapter and
// every other request to next, so plain net/http handlers sit beside
// consumers on one port.
func (a *Adapter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gorilla.IsWebSocketUpgrade(r) {
			a.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Conns is the number of live connections, handshakes in progress included.
func (a *Adapter) Conns() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.conns)
}

// ServeHTTP runs one WebSocket handshake as one scope. It returns once the
// socket is open (a goroutine of the adapter reads it from then on) or the
// handshake has been refused.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if status := checkHandshake(r); status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	c, err := a.open(r)
	if err != nil {
		status := http.StatusServiceUnavailable
		if !errors.Is(err, errShutdown) {
			status = http.StatusInternalServerError
			a.log.Warn("websocket: cannot start scope", "path", r.URL.Path, "err", err)
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	if !c.handshake(w, r) {
		a.done(c)
		return
	}
	go c.readLoop(false) // a fresh goroutine: ServeHTTP returns, and net/http frees the request's buffers
}

var errShutdown = errors.New("websocket: adapter shut down")

// checkHandshake refuses malformed handshakes before a scope is started for
// them; gorilla checks the rest when upgrading.
func checkHandshake(r *http.Request) int {
	switch {
	case !gorilla.IsWebSocketUpgrade(r):
		return http.StatusBadRequest
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed
	case r.Header.Get("Sec-WebSocket-Version") != "13", r.Header.Get("Sec-WebSocket-Key") == "":
		return http.StatusBadRequest
	}
	return 0
}

// open registers a connection for r and starts its instance.
func (a *Adapter) open(r *http.Request) (*conn, error) {
	scope := &core.Scope{
		Type:         "websocket",
		Key:          "websocket:" + rand.Text(),
		Path:         r.URL.Path,
		RawQuery:     r.URL.RawQuery,
		Headers:      scopeHeaders(r),
		Client:       r.RemoteAddr,
		Subprotocols: gorilla.Subprotocols(r),
	}
	c := &conn{a: a, scope: scope, hs: newHandshake(), pingSlot: -1}
	a.mu.Lock()
	if a.shutdown {
		a.mu.Unlock()
		return nil, errShutdown
	}
	a.conns[c] = struct{}{}
	a.wg.Add(1) // under mu, so Shutdown's Wait never races a first Add
	a.mu.Unlock()

	inst, err := a.rt.Start(a.ctx, scope, c.send)
	if err != nil {
		a.done(c)
		return nil, fmt.Errorf("websocket: start %s: %w", scope.Key, err)
	}
	c.inst = inst
	return c, nil
}

// scopeHeaders copies the request's headers for the scope, in one map and
// one slice of values, with Host (which net/http moves out of the map) and
// without the handshake's own: they say how to upgrade, which is done, and
// a scope lives as long as its socket. A browser sends a dozen headers;
// five fewer keep the map in one group of eight.
func scopeHeaders(r *http.Request) http.Header {
	keys, values := 1, 1
	for k, vs := range r.Header {
		if !handshakeHeader(k) {
			keys, values = keys+1, values+len(vs)
		}
	}
	h := make(http.Header, keys)
	all := make([]string, 0, values)
	for k, vs := range r.Header {
		if !handshakeHeader(k) {
			all = append(all, vs...)
			h[k] = all[len(all)-len(vs) : len(all) : len(all)]
		}
	}
	all = append(all, r.Host)
	h["Host"] = all[len(all)-1:]
	return h
}

// handshakeHeader reports whether a canonical header key belongs to the
// WebSocket handshake alone. Sec-WebSocket-Protocol stays: the scope's
// Subprotocols come from it, and an application may want it as sent.
func handshakeHeader(k string) bool {
	switch k {
	case "Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions":
		return true
	}
	return false
}

// done forgets a connection whose instance has been stopped.
func (a *Adapter) done(c *conn) {
	a.mu.Lock()
	delete(a.conns, c)
	a.mu.Unlock()
	a.wg.Done()
}

// Shutdown refuses new handshakes, closes every socket with 1001 ("server
// shutting down"), delivers Disconnect{1001} and waits for the instances to
// end, each bounded by CloseTimeout. If ctx ends first it drops the
// remaining connections, cancels their instances and returns ctx's error.
func (a *Adapter) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	if !a.shutdown {
		a.shutdown = true
		close(a.closing)
	}
	conns := make([]*conn, 0, len(a.conns))
	for c := range a.conns {
		conns = append(conns, c)
	}
	a.mu.Unlock()
	a.log.Info("websocket: shutting down", "conns", len(conns))
	for _, c := range conns {
		c.startClose(ws.CloseGoingAway, "server shutting down", false)
	}
	idle := make(chan struct{})
	go func() { // ends when the last connection does, which cancel below hastens
		a.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		a.stopPoller()
		a.stopPinger()
		return nil
	case <-ctx.Done():
	}
	a.cancel()
	a.mu.Lock()
	for c := range a.conns {
		c.drop()
	}
	a.mu.Unlock()
	a.stopPoller()
	a.stopPinger()
	return fmt.Errorf("websocket: shutdown: %w", ctx.Err())
}
