package outbox

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/store"
)

// journalOf opens a store and returns it with a function reading its
// attempt journal's lines.
func journalOf(t *testing.T) (*store.DB, func() []string) {
	t.Helper()
	db, path := openStore(t)
	return db, func() []string {
		data, _ := os.ReadFile(store.JournalPath(path))
		var lines []string
		for line := range strings.Lines(string(data)) {
			f := strings.Fields(line)
			lines = append(lines, f[0]+"_"+f[1]) // I's connection and count are the store's to check
		}
		return lines
	}
}

// openStore opens a store for the test and returns it with its path.
func openStore(t *testing.T) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// written is the journal of a request made by OutboxWrite, then the lines
// that follow: its I line first where a witness holds the connection.
func written(id string, then ...string) []string {
	lines := []string{"W_" + id}
	if runtime.GOOS == "linux" {
		lines = append([]string{"I_" + id}, lines...)
	}
	return append(lines, then...)
}

// noRaw is a journal that cannot make the last write itself.
type noRaw struct{ *store.DB }

func (noRaw) OutboxWrite(int64, *store.Wire, []byte) (int, error, error) {
	return 0, errors.ErrUnsupported, nil
}

// post sends a streamed body, the way go-telegram/bot does (a pipe).
func post(ctx context.Context, client *http.Client, url string) (*http.Response, error) {
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "text=hello") //nolint:errcheck // the reader reports it
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
	if err != nil {
		return nil, err
	}
	return client.Do(req)
}

func newClient() *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: Transport(http.DefaultTransport.(*http.Transport).Clone())}
}

func TestTransportJournalsEachAttempt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		entry    bool
		fallback bool // the journal cannot make the last write
		want     []string
	}{
		{"accepted", http.StatusOK, true, false, written("7")},
		{"refused", http.StatusTooManyRequests, true, false, written("7", "E_7")},
		{"accepted, written by the transport", http.StatusOK, true, true, []string{"W_7"}},
		{"not an outbox call", http.StatusOK, false, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, lines := journalOf(t)
			var seen []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = lines()
				body, _ := io.ReadAll(r.Body)
				if string(body) != "text=hello" || tc.entry && r.ContentLength != int64(len(body)) {
					t.Errorf("body %q, length %d: want the whole body, with its length if journaled", body, r.ContentLength)
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			ctx := t.Context()
			if tc.entry {
				var j Journal = db
				if tc.fallback {
					j = noRaw{db}
				}
				ctx = withEntry(ctx, j, 7, func(err error) { t.Error(err) })
			}
			resp, err := post(ctx, newClient(), srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := lines(); !slices.Equal(got, tc.want) {
				t.Errorf("journal %q, want %q", got, tc.want)
			}
			// Corked, the request reaches the server only once W is appended.
			if upToW := tc.want[:slices.Index(tc.want, "W_7")+1]; runtime.GOOS == "linux" && tc.entry && !slices.Equal(seen, upToW) {
				t.Errorf("the server got the request with the journal at %q, want W first", seen)
			}
		})
	}
}

func TestTransportJournalsABrokenConnection(t *testing.T) {
	db, lines := journalOf(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) //nolint:errcheck
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // no answer: the call's fate is unknown
	}))
	defer srv.Close()
	if _, err := post(withEntry(t.Context(), db, 7, func(err error) { t.Error(err) }), newClient(), srv.URL); err == nil {
		t.Fatal("no error from a dropped connection")
	}
	// Written, then failed: while the hub runs the call is retried.
	if got, want := lines(), written("7", "E_7"); !slices.Equal(got, want) {
		t.Fatalf("journal %q, want %q", got, want)
	}
}

func TestTransportWaitsForTheAnswerOfACancelledCall(t *testing.T) {
	db, lines := journalOf(t)
	arrived, answer := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-answer
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel() // the courier stops while the platform has the call
		close(answer)
	}()
	resp, err := post(withEntry(ctx, db, 7, func(err error) { t.Error(err) }), newClient(), srv.URL)
	if err != nil {
		t.Fatalf("a call on the wire was abandoned: %v", err)
	}
	resp.Body.Close()
	if got, want := lines(), written("7"); !slices.Equal(got, want) {
		t.Fatalf("journal %q, want %q", got, want)
	}
}

// A connection the witness holds too is closed for the peer when the hub
// closes it: the witness lets go of its copy.
func TestTransportClosesWitnessedConnections(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the witness is Linux's")
	}
	db, lines := journalOf(t)
	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) //nolint:errcheck
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	client := newClient()
	resp, err := post(withEntry(t.Context(), db, 7, func(err error) { t.Error(err) }), client, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	if got := lines(); !slices.Equal(got, written("7")) {
		t.Fatalf("journal %q: the request was not witnessed", got)
	}
	client.CloseIdleConnections()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never saw the connection close: the witness still holds it")
	}
}

// Over TLS or not, and for a long call, the request's last flush must be
// the whole request, made as one write: its I line's count is what the
// connection has carried once the request is whole. (With the transport's
// default 4 KiB buffer a long request would leave in several writes, and
// crypto/tls writes each record apart: the journal's lines would stand
// between them.)
func TestTransportLastWriteIsWhole(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the witness is Linux's")
	}
	for _, tc := range []struct {
		name string
		tls  bool
		body string
	}{
		// A long Telegram message: 4,096 characters, some of them 3 bytes.
		{"tls, 12 KB", true, strings.Repeat("€", 4000)},
		// Several TLS records: a message with a large keyboard or embeds.
		{"tls, 40 KB", true, strings.Repeat("€", 13000)},
		{"plain, 40 KB", false, strings.Repeat("€", 13000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, dbPath := openStore(t)
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if body, _ := io.ReadAll(r.Body); string(body) != tc.body {
					t.Errorf("the server got %d bytes, want %d", len(body), len(tc.body))
				}
			})
			var srv *httptest.Server
			var base *http.Transport
			if tc.tls {
				srv = httptest.NewTLSServer(handler)
				base = srv.Client().Transport.(*http.Transport).Clone()
			} else {
				srv = httptest.NewServer(handler)
				base = http.DefaultTransport.(*http.Transport).Clone()
			}
			defer srv.Close()
			client := &http.Client{Timeout: time.Minute, Transport: Transport(base)}
			req, err := http.NewRequestWithContext(withEntry(t.Context(), db, 7, func(err error) { t.Error(err) }), http.MethodPost, srv.URL, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body) //nolint:errcheck
			resp.Body.Close()
			// The witness reports the connection's count as the store
			// closes, with the connection still open and idle: nothing
			// written since.
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(store.JournalPath(dbPath))
			if err != nil {
				t.Fatal(err)
			}
			var end, count int64 = -1, -2
			for line := range strings.Lines(string(data)) {
				f := strings.Fields(line)
				switch f[0] {
				case "I":
					end, _ = strconv.ParseInt(f[3], 10, 64)
				case "C":
					count, _ = strconv.ParseInt(f[2], 10, 64)
				}
			}
			if end != count {
				t.Fatalf("journal %q: the request's I line says it is whole at %d bytes, the connection had carried %d: its last flush took more than one write", data, end, count)
			}
		})
	}
}
