package hubtest

import (
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/store"
)

// DefaultTimeout is how long a communicator waits for an expected event.
const DefaultTimeout = time.Second

// NothingWindow is how long ExpectNothing watches; see the package doc.
const NothingWindow = 50 * time.Millisecond

// Option configures a Hub or one communicator.
type Option func(*options)

type options struct {
	headers      http.Header
	subprotocols []string
	layer        layer.Layer
	store        core.StateStore
	storeSet     bool // Store was given, perhaps nil
	timeout      time.Duration
	inboxSize    int
	policy       core.InboxPolicy
	edit         []func(*core.Scope)
	key          string      // Chat: the conversation key
	sender       chat.Sender // Chat: who speaks
}

// Headers sets the request headers of the handshake ("Host" defaults to
// "testserver", as in Channels' communicator).
func Headers(h http.Header) Option { return func(o *options) { o.headers = h.Clone() } }

// Subprotocols sets the WebSocket subprotocols the client offers.
func Subprotocols(p ...string) Option { return func(o *options) { o.subprotocols = p } }

// Layer uses l as the channel layer instead of a fresh in-memory one; for a
// communicator made by a Hub it overrides the hub's layer. The caller owns l.
func Layer(l layer.Layer) Option { return func(o *options) { o.layer = l } }

// Store uses s as the state store instead of a fresh SQLite file; the
// caller owns s (and Hub.Restart cannot reopen it). Store(nil) runs without
// a store, as a hub configured without one: State methods fail with
// core.ErrNoStore.
func Store(s core.StateStore) Option {
	return func(o *options) { o.store, o.storeSet = s, true }
}

// Timeout sets how long a communicator waits for expected events.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Inbox sets the runtime's inbox capacity and full-inbox policy, to test
// how an application behaves under backpressure (default: core's).
func Inbox(size int, policy core.InboxPolicy) Option {
	return func(o *options) { o.inboxSize, o.policy = size, policy }
}

// ScopeFunc edits the scope before the application starts: set a User as
// auth middleware would, add route Params, Extra values, a client address.
func ScopeFunc(fn func(*core.Scope)) Option {
	return func(o *options) { o.edit = append(o.edit, fn) }
}

func apply(base options, opts []Option) options {
	for _, o := range opts {
		o(&base)
	}
	if base.timeout <= 0 {
		base.timeout = DefaultTimeout
	}
	return base
}

// Hub is the shared part of a hub in a test: the channel layer, the store
// and the runtime's metrics. Communicators made from one Hub share them, so
// two clients in one room talk to each other.
type Hub struct {
	// Layer is the channel layer: a *layer.Memory unless the Layer option
	// gave another.
	Layer layer.Layer
	// Store is the state store: a *store.DB in t.TempDir() unless the Store
	// option gave another. Hub.Restart replaces it.
	Store core.StateStore
	// Metrics are the runtime counters of every communicator of this hub.
	Metrics *core.Metrics

	t      testing.TB
	opts   options
	dbPath string // "" when the caller owns the store
	db     *store.DB
	logger *slog.Logger
	seq    atomic.Int64

	mu   sync.Mutex
	live map[*session]struct{}
}

// NewHub returns a hub for one test, torn down by t.Cleanup: its live
// communicators are disconnected, then its store is closed.
func NewHub(t testing.TB, opts ...Option) *Hub {
	t.Helper()
	done := new(atomic.Bool)
	t.Cleanup(func() { done.Store(true) }) // runs last: no logging after the test
	h := &Hub{
		Metrics: new(core.Metrics),
		t:       t,
		opts:    apply(options{}, opts),
		logger:  slog.New(slog.NewTextHandler(testWriter{t, done}, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime})),
		live:    make(map[*session]struct{}),
	}
	h.Layer = h.opts.layer
	if h.Layer == nil {
		h.Layer = layer.NewMemory(layer.Options{})
	}
	h.Store = h.opts.store
	if !h.opts.storeSet {
		h.dbPath = filepath.Join(t.TempDir(), "hub.db")
		h.openStore()
	}
	t.Cleanup(h.shutdown)
	return h
}

func (h *Hub) openStore() {
	h.t.Helper()
	// SyncNormal: a test needs writes to survive the process (Restart), not
	// power loss, and skipping the fsync per commit keeps suites fast.
	db, err := store.Open(h.dbPath, store.WithSync(store.SyncNormal))
	if err != nil {
		h.t.Fatalf("hubtest: open store: %v", err)
	}
	h.db, h.Store = db, db
}

// shutdown ends every live communicator as the hub does when it stops
// (close code 1001) and closes the store it opened.
func (h *Hub) shutdown() {
	h.mu.Lock()
	live := make([]*session, 0, len(h.live))
	for c := range h.live {
		live = append(live, c)
	}
	h.mu.Unlock()
	for _, c := range live {
		c.stop(true)
	}
	if h.db != nil {
		if err := h.db.Close(); err != nil {
			h.t.Errorf("hubtest: close store: %v", err)
		}
		h.db = nil
	}
}

// Restart stops the hub and starts it again on the same database file, the
// way a process restart would: live communicators are disconnected with
// 1001, the store is closed and reopened, and a fresh in-memory layer
// replaces the old one (a layer passed with the Layer option is external,
// like Redis, and is kept). Use it to prove that state survives.
func (h *Hub) Restart() {
	h.t.Helper()
	if h.dbPath == "" {
		h.t.Fatalf("hubtest: Restart needs the hub's own store, not one passed with the Store option")
	}
	h.shutdown()
	h.openStore()
	if h.opts.layer == nil {
		h.Layer = layer.NewMemory(layer.Options{})
	}
}

func (h *Hub) runtime(app core.Application, o options) *core.Runtime {
	l, s := h.Layer, h.Store
	if o.layer != nil {
		l = o.layer
	}
	if o.storeSet {
		s = o.store
	}
	return &core.Runtime{App: app, Layer: l, Store: s, InboxSize: o.inboxSize, Policy: o.policy,
		Logger: h.logger, Metrics: h.Metrics}
}

func (h *Hub) track(c *session, live bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if live {
		h.live[c] = struct{}{}
	} else {
		delete(h.live, c)
	}
}

// testWriter sends the runtime's log lines to t.Log, so a panic's stack
// shows up beside the failing test, and drops them once the test is over.
type testWriter struct {
	t    testing.TB
	done *atomic.Bool
}

func (w testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (h *Hub) nextKey(protocol string) (key, client string) {
	n := h.seq.Add(1)
	return fmt.Sprintf("%s:hubtest-%d", protocol, n), fmt.Sprintf("127.0.0.1:%d", 40000+n)
}

// dropTime leaves the time out of log lines: the test log has its own order.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
