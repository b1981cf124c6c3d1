package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("store: closed")

// Sync is the SQLite synchronous level of the writer connection; see doc.go
// for what each level guarantees.
type Sync int

const (
	// SyncFull fsyncs the WAL on every commit: a committed write survives
	// power loss. It is the default.
	SyncFull Sync = iota
	// SyncNormal fsyncs only at checkpoints: a committed write survives a
	// process crash, but the last commits may be lost on power loss or an OS
	// crash. The database is never corrupted either way.
	SyncNormal
)

func (s Sync) String() string {
	switch s {
	case SyncFull:
		return "FULL"
	case SyncNormal:
		return "NORMAL"
	}
	return "Sync(" + strconv.Itoa(int(s)) + ")"
}

// Option configures Open.
type Option func(*config)

type config struct {
	sync        Sync
	readers     int
	busyTimeout time.Duration
	sweepEvery  time.Duration
	keepLinks   time.Duration
	queueSize   int
	maxBatch    int
	now         func() time.Time
}

// WithSync chooses the synchronous level (default SyncFull).
func WithSync(s Sync) Option { return func(c *config) { c.sync = s } }

// WithReaders sets the size of the read-only connection pool (default 4).
func WithReaders(n int) Option { return func(c *config) { c.readers = n } }

// WithBusyTimeout sets how long a connection waits for a lock held by another
// process (e.g. a backup or the sqlite3 shell) before failing (default 5s).
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithSweepInterval sets how often expired state is deleted in the background
// (default 1m); d <= 0 disables the sweep and leaves only lazy deletion.
func WithSweepInterval(d time.Duration) Option { return func(c *config) { c.sweepEvery = d } }

// WithMessageRetention sets how long the message-id map keeps a copy
// (default 30 days): the sweep forgets older ones, so an edit of a message
// older than that is no longer relayed. d <= 0 keeps them forever.
func WithMessageRetention(d time.Duration) Option { return func(c *config) { c.keepLinks = d } }

// withQueueSize and withClock exist for tests.
func withQueueSize(n int) Option            { return func(c *config) { c.queueSize = n } }
func withClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// DB is the hub's database. It is safe for concurrent use. Writes go through a
// single writer goroutine that commits them in batches; reads use a separate
// pool of query-only connections. See doc.go.
type DB struct {
	path string
	now  func() time.Time

	w      *sql.DB   // owns the one writer connection (MaxOpenConns 1)
	wconn  *sql.Conn // pinned so every batch runs on the same connection
	r      *sql.DB   // query-only reader pool
	calls  *journal  // the attempt journal of outbox calls (journal.go)
	replay Replay    // what Open's replay of it settled

	// mu guards closed and the send side of queue: enqueuers hold it for
	// reading so Close (holding it for writing) knows no send is in flight
	// when it closes the channel.
	mu       sync.RWMutex
	closed   bool
	queue    chan writeReq
	maxBatch int

	writerDone chan struct{}
	bgCancel   context.CancelFunc // stops the sweeper
	bg         sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	writes, batches, dropped, failed atomic.Uint64
}

// Stats are cumulative counters for metrics.
type Stats struct {
	Writes  uint64 // write operations committed (including Flush and internal expiry deletes)
	Batches uint64 // transactions committed (Writes/Batches is the batching factor)
	Dropped uint64 // fire-and-forget writes discarded because the queue was full or the DB closed
	Failed  uint64 // write operations that returned an error or whose batch failed to commit
}

// Stats returns the current counters.
func (db *DB) Stats() Stats {
	return Stats{
		Writes:  db.writes.Load(),
		Batches: db.batches.Load(),
		Dropped: db.dropped.Load(),
		Failed:  db.failed.Load(),
	}
}

// Open opens (creating if needed) the database at path, migrates it to the
// current schema and starts the writer and the expiry sweep. The file is
// created with mode 0600, and an existing file is narrowed to 0600, because it
// holds bot tokens; SQLite gives its -wal and -shm files the same mode.
func Open(path string, opts ...Option) (*DB, error) {
	cfg := config{
		sync:        SyncFull,
		readers:     4,
		busyTimeout: 5 * time.Second,
		sweepEvery:  time.Minute,
		keepLinks:   30 * 24 * time.Hour,
		queueSize:   4096,
		maxBatch:    256,
		now:         time.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		// A memory database cannot be shared by the writer and the reader
		// pool, and URIs would bypass our DSN: ask for a plain file path.
		return nil, fmt.Errorf("store: open %q: need a file path", path)
	}
	if cfg.readers < 1 || cfg.queueSize < 1 || cfg.maxBatch < 1 {
		return nil, fmt.Errorf("store: open %s: readers, queue size and batch size must be positive", path)
	}
	if cfg.sync != SyncFull && cfg.sync != SyncNormal {
		return nil, fmt.Errorf("store: open %s: unknown %v", path, cfg.sync)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}

	db := &DB{
		path:       path,
		now:        cfg.now,
		queue:      make(chan writeReq, cfg.queueSize),
		maxBatch:   cfg.maxBatch,
		writerDone: make(chan struct{}),
	}
	ok := false
	defer func() {
		if !ok {
			db.closeConns()
		}
	}()

	busy := strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10)
	var err error
	db.w, err = sql.Open("sqlite3", dsn(path, url.Values{
		"_journal_mode":    {"WAL"},
		"_synchronous":     {cfg.sync.String()},
		"_busy_timeout":    {busy},
		"_foreign_keys":    {"1"},
		"_txlock":          {"immediate"}, // take the write lock at BEGIN, never upgrade mid-transaction
		"_stmt_cache_size": {"64"},
	}))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// The pool must never open a second writer nor retire the pinned one.
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	ctx := context.Background()
	if db.wconn, err = db.w.Conn(ctx); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	var mode string
	if err := db.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("store: open %s: journal mode is %q, want wal", path, mode)
	}
	if err := migrate(ctx, db.wconn, migrations); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// Before any adapter reads its pending calls: those a crash cut off
	// after the platform got them must not be made again.
	if db.replay, err = replayJournal(ctx, db.wconn, JournalPath(path), cfg.now().UnixNano()); err != nil {
		return nil, fmt.Errorf("store: open %s: attempt journal: %w", path, err)
	}
	db.calls = newJournal(JournalPath(path))

	// Readers are ordinary read-write opens with query_only set, not
	// mode=ro: a read-only open of a WAL database cannot create or recover
	// the -shm file, while query_only gives the same protection against
	// accidental writes without that failure mode.
	db.r, err = sql.Open("sqlite3", dsn(path, url.Values{
		"_busy_timeout":    {busy},
		"_foreign_keys":    {"1"},
		"_query_only":      {"1"},
		"_stmt_cache_size": {"64"},
	}))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: readers: %w", path, err)
	}
	db.r.SetMaxOpenConns(cfg.readers)
	db.r.SetMaxIdleConns(cfg.readers)
	if err := db.r.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("store: open %s: readers: %w", path, err)
	}

	ok = true
	go db.runWriter()
	bgCtx, cancel := context.WithCancel(context.Background())
	db.bgCancel = cancel
	if cfg.sweepEvery > 0 {
		db.bg.Go(func() { db.sweepLoop(bgCtx, cfg.sweepEvery, cfg.keepLinks) })
	}
	return db, nil
}

// Close stops the sweep, waits until every queued write (fire-and-forget
// ones included) has committed, then closes the connections. Writes attempted
// after Close starts fail with ErrClosed (or are counted as dropped). Close is
// idempotent.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.bgCancel()
		db.bg.Wait()

		db.mu.Lock()
		db.closed = true
		close(db.queue) // the writer drains what is left, then exits
		db.mu.Unlock()
		<-db.writerDone

		db.closeErr = errors.Join(db.closeConns(), db.calls.close())
	})
	return db.closeErr
}

func (db *DB) closeConns() error {
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.wconn != nil {
		errs = append(errs, db.wconn.Close())
	}
	if db.w != nil {
		// Closing the last connection checkpoints the WAL into the main file.
		errs = append(errs, db.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close %s: %w", db.path, err)
	}
	return nil
}

func (db *DB) isClosed() bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.closed
}

// SchemaVersion reports the schema version of the open database, which equals
// the number of migrations this binary knows once Open has succeeded.
// It reads one header field, so it takes no context.
func (db *DB) SchemaVersion() (int, error) {
	if db.isClosed() {
		return 0, ErrClosed
	}
	var v int
	if err := db.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// createPrivate makes sure path exists with mode 0600 before SQLite opens it;
// SQLite itself would create it 0644 (minus umask).
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// dsn builds a go-sqlite3 data source name. The "file:" URI form lets a path
// contain '?' or '#' once escaped; SQLite ignores the driver's own "_"
// parameters, which go-sqlite3 reads itself.
func dsn(path string, params url.Values) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + params.Encode()
}
