package outbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hubhq/hub/store"
)

// Journal records the attempts at an outbox entry's call, so that a restart
// after a crash knows which calls reached the platform: the store's attempt
// journal (see package store, "The attempt journal").
type Journal interface {
	// Wire prepares a connection for OutboxWrite (err: without a witness).
	Wire(conn syscall.RawConn) (*store.Wire, error)
	// OutboxWrite makes the write that completes entry id's request and
	// appends W right after it (journalErr: a line could not be);
	// errors.ErrUnsupported means it cannot: write, then OutboxWritten.
	OutboxWrite(id int64, w *store.Wire, p []byte) (n int, err, journalErr error)
	OutboxWritten(id int64) error                 // the request is written in full
	OutboxAnswered(id int64, result string) error // the platform accepted it
	OutboxErrored(id int64) error                 // the attempt failed: it will be retried
}

type entryKey struct{}

// entry is the outbox entry whose call a context's requests make.
type entry struct {
	journal Journal
	id      int64
	failed  func(error) // a journal line could not be written
}

// withEntry returns ctx for the requests of entry id's call: Transport
// journals them to j, and calls failed if it cannot.
func withEntry(ctx context.Context, j Journal, id int64, failed func(error)) context.Context {
	return context.WithValue(ctx, entryKey{}, &entry{journal: j, id: id, failed: failed})
}

func (e *entry) record(err error) {
	if err != nil {
		e.failed(err)
	}
}

// Transport makes t journal the requests of outbox entries: I and W
// around the write that completes a request, E when it fails or the
// platform answers with an error status (R, the answer, is the courier's:
// it needs the answer decoded). Other requests pass through untouched.
//
// Whether a request left whole is what a restart must know, so:
//   - a streamed body is read into memory first and sent with its length
//     (see whole), so the request's last write is what completes it;
//   - that last write is the attempt's, not net/http's: WroteRequest comes
//     before the transport flushes its buffer, so it hands the flush to the
//     attempt (see wireConn), which makes it between I and W, the write
//     and W as raw write(2)s back to back (store.DB.OutboxWrite). The
//     connection's socket is shared with the journal's witness from its
//     first such request (store.DB.Wire), so a crash between I and W is
//     settled by the kernel's count. If nothing was left to flush, W is
//     appended at the first byte of the answer;
//   - that last write is corked (see cork), which keeps the window between
//     the write and W narrow where no witness runs;
//   - t speaks HTTP/1.1 only: over HTTP/2 streams share their writes;
//   - the transport buffers up to 64 KiB, so that a chat call's last
//     flush is the whole request; over TLS that flush's records are made
//     as one write too (see tlsWire). Through a proxy the transport does
//     TLS itself: each record is then a write of its own.
//
// A journaled request is not cancelled with its context (the courier
// stopping): once it may have reached the platform, only its answer says
// whether the call was made. Its deadline, the client's timeout, holds.
func Transport(t *http.Transport) http.RoundTripper {
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	dialWire := func(ctx context.Context, network, addr string) (*wireConn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &wireConn{Conn: c}, nil
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialWire(ctx, network, addr)
	}
	t.DialTLSContext = dialTLS(dialWire, t.TLSClientConfig, t.TLSHandshakeTimeout)
	var p http.Protocols
	p.SetHTTP1(true)
	t.Protocols = &p
	// The request's last flush must be the whole request. The transport
	// buffers what it writes: with 64 KiB every chat call (Telegram's
	// 4,096 characters, Discord's 2,000 and its embeds, and their form)
	// fits, so it is flushed once, in full. A larger request leaves in
	// several flushes, and only its first byte of answer is journaled (see
	// wrote).
	t.WriteBufferSize = requestBuffer
	return journaled{next: t}
}

// requestBuffer is the transport's write buffer: a whole chat call.
const requestBuffer = 64 << 10

// dialTLS returns the transport's TLS dialer: TLS over a wireConn, whose
// Write hands the wireConn a journaled request's last flush as one batch
// of records (see tlsWire). Without it, crypto/tls would write each
// record apart, and the journal's lines would stand between them.
func dialTLS(dialWire func(ctx context.Context, network, addr string) (*wireConn, error), config *tls.Config, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if config == nil {
		config = &tls.Config{}
	}
	config = config.Clone()
	config.NextProtos = []string{"http/1.1"}
	config.DynamicRecordSizingDisabled = true // fewer, fuller records
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		w, err := dialWire(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := config
		if cfg.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			cfg = config.Clone()
			cfg.ServerName = host
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		tc := tls.Client(w, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			w.Close()
			return nil, err
		}
		return &tlsWire{Conn: tc, wire: w}, nil
	}
}

// tlsWire is TLS over a wireConn: a journaled request's last flush is
// encrypted into a batch the wireConn then makes as one write, between the
// journal's lines.
type tlsWire struct {
	*tls.Conn
	wire *wireConn
}

func (c *tlsWire) Write(p []byte) (int, error) {
	a := c.wire.last.Swap(nil)
	if a == nil {
		return c.Conn.Write(p)
	}
	c.wire.startBatch(len(p))
	n, err := c.Conn.Write(p)
	records := c.wire.endBatch()
	if err != nil {
		return n, err
	}
	if _, err := a.finish(c.wire, records); err != nil {
		return 0, err
	}
	return n, nil
}

type journaled struct{ next http.RoundTripper }

// CloseIdleConnections closes the transport's idle connections, so that
// http.Client.CloseIdleConnections reaches them through the wrapper.
func (t journaled) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t journaled) RoundTrip(req *http.Request) (*http.Response, error) {
	e, _ := req.Context().Value(entryKey{}).(*entry)
	if e == nil {
		return t.next.RoundTrip(req)
	}
	ctx, cancel := detach(req.Context())
	req, err := whole(req.WithContext(httptrace.WithClientTrace(ctx, e.trace())))
	if err == nil {
		var resp *http.Response
		if resp, err = t.next.RoundTrip(req); err == nil {
			if resp.StatusCode >= http.StatusMultipleChoices {
				e.record(e.journal.OutboxErrored(e.id))
			}
			resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
	}
	cancel()
	e.record(e.journal.OutboxErrored(e.id))
	return nil, err
}

// attempt is one request of an entry's call.
type attempt struct {
	*entry
	written atomic.Bool // W is appended
}

// trace appends W once the request is on the wire (see Transport).
func (e *entry) trace() *httptrace.ClientTrace {
	a := &attempt{entry: e}
	var conn atomic.Pointer[wireConn]
	return &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { conn.Store(wire(i.Conn)) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if c := conn.Load(); c != nil && i.Err == nil {
				c.last.Store(a)
			}
		},
		// The server read the request (or gave up on it): either way it
		// left the process. This also covers connections Transport did
		// not dial.
		GotFirstResponseByte: a.wrote,
	}
}

// finish makes the write that completes the request, p, on c, corked,
// with the journal's lines around it (see store.DB.OutboxWrite).
func (a *attempt) finish(c *wireConn, p []byte) (int, error) {
	cork(c.Conn, true)
	defer cork(c.Conn, false)
	if w := c.wireFor(a); w != nil {
		n, err, journalErr := a.journal.OutboxWrite(a.id, w, p)
		if !errors.Is(err, errors.ErrUnsupported) {
			if err == nil {
				a.written.Store(true)
				a.record(journalErr)
			}
			return n, err
		}
	}
	n, err := c.Conn.Write(p)
	if err == nil {
		a.wrote()
	}
	return n, err
}

// wrote appends W, unless it is.
func (a *attempt) wrote() {
	if a.written.CompareAndSwap(false, true) {
		a.record(a.journal.OutboxWritten(a.id))
	}
}

// whole reads a streamed body into memory and sends it with its length. A
// chunked body's content ends (the closing multipart boundary) one flush
// before its terminator, and a server may act on it then: the request's
// last write would not be what completes it. Chat calls are small.
func whole(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return req, nil // none, or in memory (http.NewRequest knows its length)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return req, nil
}

// detach keeps ctx's values and deadline but not its cancellation.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(context.WithoutCancel(ctx), d)
	}
	return context.WithCancel(ctx) // nothing would bound it: keep it cancellable
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	defer b.cancel()
	return b.ReadCloser.Close()
}

// wireConn is a connection Transport dialled: once a journaled request is
// written but for the transport's last flush, that flush is the attempt's
// to make (see attempt.finish).
type wireConn struct {
	net.Conn
	last atomic.Pointer[attempt]

	mu    sync.Mutex
	wire  *store.Wire // made at the first journaled request
	batch []byte      // writes collected for one write (see tlsWire); nil: none
}

func (c *wireConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.batch != nil {
		c.batch = append(c.batch, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	if a := c.last.Swap(nil); a != nil {
		return a.finish(c, p)
	}
	return c.Conn.Write(p)
}

// startBatch makes the writes that follow collect, until endBatch returns
// them: the records of size bytes of plaintext.
func (c *wireConn) startBatch(size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batch = make([]byte, 0, size+size/64+64) // a record's header and tag: 5 + up to 32 bytes per 16 KiB
}

func (c *wireConn) endBatch() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.batch
	c.batch = nil
	return b
}

// wireFor returns the journal's Wire for c, made at its first journaled
// request: from then on the witness holds the socket too (a journal that
// cannot have one says why, once per connection). Nil: no raw access.
func (c *wireConn) wireFor(a *attempt) *store.Wire {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wire != nil {
		return c.wire
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w, err := a.journal.Wire(raw)
	if !errors.Is(err, errors.ErrUnsupported) {
		a.record(err)
	}
	c.wire = w
	return w
}

// Close lets the witness go of the socket before closing it, so that the
// peer sees it close.
func (c *wireConn) Close() error {
	c.mu.Lock()
	w := c.wire
	c.mu.Unlock()
	var err error
	if w != nil {
		err = w.Close()
	}
	return errors.Join(c.Conn.Close(), err)
}

// wire finds the wireConn under a connection, if Transport dialled it.
func wire(c net.Conn) *wireConn {
	switch t := c.(type) {
	case *tlsWire:
		return t.wire
	case *tls.Conn:
		c = t.NetConn()
	}
	w, _ := c.(*wireConn)
	return w
}
