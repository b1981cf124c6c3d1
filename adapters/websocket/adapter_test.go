package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/hubhq/hub/core"
	ws "github.com/hubhq/hub/core/websocket"
	"github.com/hubhq/hub/internal/poll"
)

func TestAcceptWithSubprotocol(t *testing.T) {
	scopes := make(chan *core.Scope, 1)
	disc := make(chan ws.Disconnect, 1)
	app := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		scopes <- scope
		return echo(disc)(ctx, scope, inbox, send)
	})
	h := newHub(t, app, Options{})
	d := gorilla.Dialer{Subprotocols: []string{"chat.v1", "chat.v2"}}
	c, resp, err := d.Dial(h.url("/ws/room?x=1"), http.Header{"X-Test": {"yes"}})
	if err != nil {
		t.Fatalf("dial: %v (%s)", err, status(resp))
	}
	defer c.Close()
	if got := c.Subprotocol(); got != "chat.v2" {
		t.Errorf("subprotocol = %q, want chat.v2", got)
	}

	s := recv(t, scopes, "scope")
	host := strings.TrimPrefix(h.srv.URL, "http://")
	for _, check := range []struct{ name, got, want string }{
		{"type", s.Type, "websocket"},
		{"path", s.Path, "/ws/room"},
		{"query", s.RawQuery, "x=1"},
		{"host", s.Headers.Get("Host"), host},
		{"header", s.Headers.Get("X-Test"), "yes"},
		{"protocol header", s.Headers.Get("Sec-WebSocket-Protocol"), "chat.v1, chat.v2"},
		{"handshake headers", fmt.Sprint(s.Headers.Values("Sec-WebSocket-Key"), s.Headers.Values("Upgrade"), s.Headers.Values("Connection")), "[] [] []"},
		{"subprotocols", strings.Join(s.Subprotocols, ","), "chat.v1,chat.v2"},
	} {
		if check.got != check.want {
			t.Errorf("scope %s = %q, want %q", check.name, check.got, check.want)
		}
	}
	if !strings.HasPrefix(s.Key, "websocket:") || len(s.Key) < len("websocket:")+16 {
		t.Errorf("scope key = %q, want websocket:<unique id>", s.Key)
	}
	if s.Client == "" || s.Channel == "" {
		t.Errorf("scope client %q, channel %q: want both set", s.Client, s.Channel)
	}

	roundTrip(t, c, "hello")
	for _, payload := range [][]byte{{1, 2, 3}, {}} {
		if err := c.WriteMessage(gorilla.BinaryMessage, payload); err != nil {
			t.Fatal(err)
		}
		kind, got, err := c.ReadMessage()
		if err != nil || kind != gorilla.BinaryMessage || !bytes.Equal(got, payload) {
			t.Fatalf("binary echo of %v: kind %d %v %v", payload, kind, got, err)
		}
	}

	if err := c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(4000, "bye")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, disc, "disconnect"); got.Code != 4000 || got.Reason != "bye" {
		t.Errorf("disconnect = %+v, want {4000 bye}", got)
	}
	h.settled()
}

func TestSendBeforeAcceptAccepts(t *testing.T) {
	app := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		if _, err := inbox.Next(ctx); err != nil {
			return err
		}
		if err := send(ctx, &ws.Send{Text: "welcome"}); err != nil {
			return err
		}
		return echo(nil)(ctx, scope, inbox, send)
	})
	h := newHub(t, app, Options{})
	c := h.dial("/")
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "welcome" {
		t.Fatalf("first message %q, %v; want welcome", got, err)
	}
	roundTrip(t, c, "again")
}

// TestHandshakeRefused covers every way a handshake can fail before the
// socket opens. The client must see only a short status text.
func TestHandshakeRefused(t *testing.T) {
	const secret = "secret-detail-42"
	stuck := core.AppFunc(func(ctx context.Context, _ *core.Scope, _ core.Inbox, _ core.SendFunc) error {
		<-ctx.Done() // never answers the handshake
		return ctx.Err()
	})
	tests := []struct {
		name   string
		app    core.Application
		header http.Header
		status int
	}{
		{"deny", core.AppFunc(func(ctx context.Context, _ *core.Scope, inbox core.Inbox, send core.SendFunc) error {
			if err := send(ctx, ws.Close{Code: 4003, Reason: secret}); err != nil {
				return err
			}
			_, err := inbox.Next(ctx) // the Disconnect that follows a denial
			return err
		}), nil, http.StatusForbidden},
		{"no route", core.URLRouter{core.Path("/elsewhere/", echo(nil))}, nil, http.StatusNotFound},
		{"unknown protocol", core.ProtocolTypeRouter{"http": echo(nil)}, nil, http.StatusInternalServerError},
		{"error", core.AppFunc(func(context.Context, *core.Scope, core.Inbox, core.SendFunc) error {
			return errors.New(secret)
		}), nil, http.StatusInternalServerError},
		{"panic", core.AppFunc(func(context.Context, *core.Scope, core.Inbox, core.SendFunc) error {
			panic(secret)
		}), nil, http.StatusInternalServerError},
		{"return nil", core.AppFunc(func(context.Context, *core.Scope, core.Inbox, core.SendFunc) error {
			return nil
		}), nil, http.StatusInternalServerError},
		{"foreign subprotocol", core.AppFunc(func(ctx context.Context, _ *core.Scope, _ core.Inbox, send core.SendFunc) error {
			return send(ctx, ws.Accept{Subprotocol: "not-offered"})
		}), nil, http.StatusInternalServerError},
		{"timeout", stuck, nil, http.StatusGatewayTimeout},
		{"foreign origin", core.Chain(echo(nil), ws.OriginValidator()), http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t, tt.app, Options{HandshakeTimeout: 100 * time.Millisecond, CloseTimeout: 100 * time.Millisecond})
			c, resp, err := gorilla.DefaultDialer.Dial(h.url("/ws/"), tt.header)
			if err == nil {
				c.Close()
				t.Fatal("handshake succeeded")
			}
			if !errors.Is(err, gorilla.ErrBadHandshake) || resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("dial: %v (%s), want bad handshake with %d", err, status(resp), tt.status)
			}
			body, _ := io.ReadAll(resp.Body)
			if strings.Contains(string(body), secret) || strings.Contains(string(body), "core:") {
				t.Errorf("response body leaks detail: %q", body)
			}
			h.settled()
		})
	}
}

func TestOriginValidator(t *testing.T) {
	h := newHub(t, core.Chain(echo(nil), ws.OriginValidator()), Options{})
	host := strings.TrimPrefix(h.srv.URL, "http://")
	tests := []struct {
		origin string
		status int
	}{
		{"", http.StatusSwitchingProtocols},
		{"http://" + host, http.StatusSwitchingProtocols},
		{"https://evil.example", http.StatusForbidden},
		{"http://" + host + ".evil.example", http.StatusForbidden},
	}
	for _, tt := range tests {
		header := http.Header{}
		if tt.origin != "" {
			header.Set("Origin", tt.origin)
		}
		c, resp, err := gorilla.DefaultDialer.Dial(h.url("/"), header)
		if resp == nil || resp.StatusCode != tt.status {
			t.Errorf("origin %q: %v (%s), want %d", tt.origin, err, status(resp), tt.status)
		}
		if err == nil {
			roundTrip(t, c, "hi")
			c.Close()
		}
	}
}

// TestAppEndAfterAccept: how an application ends decides the close code,
// and one failing socket leaves the hub serving the next.
func TestAppEndAfterAccept(t *testing.T) {
	tests := []struct {
		name   string
		end    func(ctx context.Context, send core.SendFunc) error
		code   int
		reason string
	}{
		{"panic", func(context.Context, core.SendFunc) error { panic("boom") }, ws.CloseInternalError, "internal error"},
		{"error", func(context.Context, core.SendFunc) error { return errors.New("failed") }, ws.CloseInternalError, "internal error"},
		{"return", func(context.Context, core.SendFunc) error { return nil }, ws.CloseNormal, ""},
		{"close", func(ctx context.Context, send core.SendFunc) error {
			if err := send(ctx, ws.Send{Text: "last words"}); err != nil {
				return err
			}
			return send(ctx, ws.Close{Code: 4001, Reason: "bye"})
		}, 4001, "bye"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			disc := make(chan ws.Disconnect, 2)
			app := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
				for {
					ev, err := inbox.Next(ctx)
					if err != nil {
						return err
					}
					switch ev := ev.(type) {
					case ws.Connect:
						if err := send(ctx, ws.Accept{}); err != nil {
							return err
						}
					case ws.Receive:
						if ev.Text != "end" {
							if err := send(ctx, ws.Send(ev)); err != nil {
								return err
							}
							continue
						}
						if err := tt.end(ctx, send); err != nil || tt.name != "close" {
							return err
						}
					case ws.Disconnect:
						disc <- ev
						return nil
					}
				}
			})
			h := newHub(t, app, Options{})
			c := h.dial("/")
			roundTrip(t, c, "before")
			if err := c.WriteMessage(gorilla.TextMessage, []byte("end")); err != nil {
				t.Fatal(err)
			}
			if tt.name == "close" {
				if _, got, err := c.ReadMessage(); err != nil || string(got) != "last words" {
					t.Fatalf("read %q, %v: want the message sent before Close", got, err)
				}
				if got := recv(t, disc, "disconnect"); got.Code != 4001 {
					t.Errorf("app saw %+v, want Disconnect{4001}", got)
				}
			}
			if code, reason := closeCode(t, c); code != tt.code || reason != tt.reason {
				t.Errorf("close = %d %q, want %d %q", code, reason, tt.code, tt.reason)
			}
			c2 := h.dial("/")
			roundTrip(t, c2, "still serving")
			c2.Close()
			h.settled()
		})
	}
}

func TestOversizedMessage(t *testing.T) {
	disc := make(chan ws.Disconnect, 1)
	h := newHub(t, echo(disc), Options{MaxMessageSize: 1024})
	c := h.dial("/")
	roundTrip(t, c, strings.Repeat("a", 1024)) // at the limit: fine
	if err := c.WriteMessage(gorilla.BinaryMessage, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	if code, _ := closeCode(t, c); code != ws.CloseTooBig {
		t.Errorf("client close code = %d, want 1009", code)
	}
	if got := recv(t, disc, "disconnect"); got.Code != ws.CloseTooBig {
		t.Errorf("app saw %+v, want Disconnect{1009}", got)
	}
	h.settled()
}

func TestInvalidUTF8Closes1007(t *testing.T) {
	disc := make(chan ws.Disconnect, 1)
	h := newHub(t, echo(disc), Options{})
	c := h.dial("/")
	if err := c.WriteMessage(gorilla.TextMessage, []byte{0xff, 0xfe}); err != nil {
		t.Fatal(err)
	}
	if code, _ := closeCode(t, c); code != ws.CloseInvalidData {
		t.Errorf("client close code = %d, want 1007", code)
	}
	if got := recv(t, disc, "disconnect"); got.Code != ws.CloseInvalidData {
		t.Errorf("app saw %+v, want Disconnect{1007}", got)
	}
}

func TestPingKeepsAlive(t *testing.T) {
	disc := make(chan ws.Disconnect, 1)
	// A pong timeout far above the interval: a loaded machine may starve
	// the client's reader for a while, and that is not what is tested.
	h := newHub(t, echo(disc), Options{PingInterval: 10 * time.Millisecond, PongTimeout: 300 * time.Millisecond})
	c := h.dial("/")
	pings := make(chan struct{}, 200)
	answer := c.PingHandler()
	c.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return answer(data)
	})
	msgs := make(chan string, 1)
	go func() { // the client's reader: it answers pings while it reads
		defer close(msgs)
		for {
			_, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			msgs <- string(m)
		}
	}()
	for range 100 { // 100 pings span three pong timeouts
		select {
		case <-pings:
		case d := <-disc:
			t.Fatalf("dropped while answering pings: %+v", d)
		case <-time.After(10 * time.Second):
			t.Fatal("timed out waiting for a ping")
		}
	}
	if err := c.WriteMessage(gorilla.TextMessage, []byte("alive")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, msgs, "echo"); got != "alive" {
		t.Errorf("echo = %q", got)
	}
}

func TestSilentClientDropped(t *testing.T) {
	disc := make(chan ws.Disconnect, 1)
	h := newHub(t, echo(disc), Options{PingInterval: 10 * time.Millisecond, PongTimeout: 50 * time.Millisecond})
	h.dial("/") // never reads, so never answers a ping
	if got := recv(t, disc, "disconnect"); got.Code != ws.CloseAbnormal {
		t.Errorf("app saw %+v, want Disconnect{1006}", got)
	}
	h.settled()
}

// TestStalledClient: a client that stops reading fills only its own queue;
// the application's send then fails and the socket is closed with 1008,
// while another socket keeps echoing.
func TestStalledClient(t *testing.T) {
	floodErr := make(chan error, 1)
	disc := make(chan ws.Disconnect, 2)
	app := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			switch ev := ev.(type) {
			case ws.Connect:
				if err := send(ctx, ws.Accept{}); err != nil {
					return err
				}
			case ws.Receive:
				if ev.Text != "flood" {
					if err := send(ctx, ws.Send(ev)); err != nil {
						return err
					}
					continue
				}
				chunk := make([]byte, 64<<10)
				for {
					if err := send(ctx, ws.Send{Bytes: chunk}); err != nil {
						floodErr <- err
						break
					}
				}
			case ws.Disconnect:
				disc <- ev
				return nil
			}
		}
	})
	h := newHub(t, app, Options{WriteQueue: 8, WriteTimeout: 5 * time.Second})
	stalled, other := h.dial("/"), h.dial("/")
	if err := stalled.WriteMessage(gorilla.TextMessage, []byte("flood")); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, other, "while flooding")
	if err := recv(t, floodErr, "send to fail"); !errors.Is(err, ErrClosed) {
		t.Errorf("send error = %v, want ErrClosed", err)
	}
	roundTrip(t, other, "after the flood")
	// Reading now drains what the kernel buffered, then the close frame.
	if code, reason := closeCode(t, stalled); code != ws.ClosePolicy || reason != "client too slow" {
		t.Errorf("stalled client closed with %d %q, want 1008", code, reason)
	}
	if got := recv(t, disc, "disconnect"); got.Code != ws.ClosePolicy {
		t.Errorf("app saw %+v, want Disconnect{1008}", got)
	}
	roundTrip(t, other, "after the close")
}

func TestInboxFullCloses1013(t *testing.T) {
	release := make(chan struct{})
	app := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		if _, err := inbox.Next(ctx); err != nil {
			return err
		}
		if err := send(ctx, ws.Accept{}); err != nil {
			return err
		}
		select { // a consumer that stops reading its inbox
		case <-ctx.Done():
			return ctx.Err()
		case <-release:
			return nil
		}
	})
	defer close(release)
	h := newHubRuntime(t, &core.Runtime{App: app, InboxSize: 2, Policy: core.CloseScope}, Options{})
	c := h.dial("/")
	go func() {
		for range 10 {
			if c.WriteMessage(gorilla.TextMessage, []byte("x")) != nil {
				return
			}
		}
	}()
	if code, _ := closeCode(t, c); code != ws.CloseTryAgainLater {
		t.Errorf("close code = %d, want 1013", code)
	}
	h.settled()
}

func TestShutdown(t *testing.T) {
	disc := make(chan ws.Disconnect, 2)
	h := newHub(t, echo(disc), Options{})
	c1, c2 := h.dial("/"), h.dial("/")
	roundTrip(t, c1, "one")
	roundTrip(t, c2, "two")

	closed := make(chan int, 2)
	for _, c := range []*gorilla.Conn{c1, c2} {
		go func() {
			code, _ := closeCode(t, c)
			closed <- code
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.a.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for range 2 {
		if code := recv(t, closed, "client close"); code != ws.CloseGoingAway {
			t.Errorf("client close code = %d, want 1001", code)
		}
		if got := recv(t, disc, "disconnect"); got.Code != ws.CloseGoingAway {
			t.Errorf("app saw %+v, want Disconnect{1001}", got)
		}
	}
	if n := h.a.Conns(); n != 0 {
		t.Errorf("Conns() = %d after shutdown", n)
	}
	if live := h.rt.Metrics.Live(); live != 0 {
		t.Errorf("%d instances live after shutdown", live)
	}
	_, resp, err := gorilla.DefaultDialer.Dial(h.url("/"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after shutdown: %v (%s), want 503", err, status(resp))
	}
}

func TestWrap(t *testing.T) {
	h := newHub(t, echo(nil), Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	srv := httptest.NewServer(h.a.Wrap(mux))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("GET /healthz: %s %q", resp.Status, body)
	}
	c, resp, err := gorilla.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/healthz", nil)
	if err != nil {
		t.Fatalf("dial: %v (%s)", err, status(resp))
	}
	defer c.Close()
	roundTrip(t, c, "upgrade requests reach the adapter")
}

// TestCyclesLeaveNothing: after many connect/disconnect cycles no instance,
// connection, layer channel, group or goroutine is left.
func TestCyclesLeaveNothing(t *testing.T) {
	app := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		if err := scope.GroupAdd(ctx, "lobby"); err != nil {
			return err
		}
		return echo(nil)(ctx, scope, inbox, send)
	})
	h := newHub(t, app, Options{})
	warm := h.dial("/") // starts what lives as long as the adapter (the poller)
	roundTrip(t, warm, "warm up")
	warm.Close()
	h.settled()
	base := runtime.NumGoroutine()
	for i := range 200 {
		c := h.dial("/")
		roundTrip(t, c, "cycle")
		if i%2 == 0 { // half close cleanly, half just drop
			_ = c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(ws.CloseNormal, ""))
			closeCode(t, c)
		}
		c.Close()
	}
	h.settled()
	poll.Until(t, patience, "layer to be empty", func() bool {
		ch, gr := h.mem.Size()
		return ch == 0 && gr == 0
	})
	poll.Until(t, patience, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= base })
}

// TestConcurrentSends: an application may send from many goroutines.
func TestConcurrentSends(t *testing.T) {
	const senders, each = 8, 50
	app := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		if _, err := inbox.Next(ctx); err != nil {
			return err
		}
		if err := send(ctx, ws.Accept{}); err != nil {
			return err
		}
		var wg sync.WaitGroup
		for range senders {
			wg.Go(func() {
				for range each {
					if send(ctx, ws.Send{Text: "x"}) != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		_, err := inbox.Next(ctx)
		return err
	})
	h := newHub(t, app, Options{WriteQueue: senders * each})
	c := h.dial("/")
	for range senders * each {
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPipelinedFrames: frames that arrive in one TCP segment, pongs among
// them, are all read, whether the reader is running or parked.
func TestPipelinedFrames(t *testing.T) {
	h := newHub(t, echo(nil), Options{})
	c := h.dial("/")
	roundTrip(t, c, "first") // the reader has parked since
	var burst []byte
	for _, f := range []struct {
		op      byte
		payload string
	}{{0x1, "a"}, {0xa, "pong"}, {0x1, "b"}, {0xa, ""}, {0x2, "c"}, {0x1, "d"}} {
		burst = append(burst, maskedFrame(f.op, []byte(f.payload))...)
	}
	if _, err := c.NetConn().Write(burst); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "b", "c", "d"} {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, got, err := c.ReadMessage(); err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	roundTrip(t, c, "last")
}

// maskedFrame builds one final client frame with a zero mask, which leaves
// the payload as it is.
func maskedFrame(op byte, payload []byte) []byte {
	f := []byte{0x80 | op, 0x80 | byte(len(payload)), 0, 0, 0, 0}
	return append(f, payload...)
}

// TestManySockets runs sockets side by side with pings every few
// milliseconds, so readers park, wake on pongs and messages, and write
// concurrently: the race detector watches the hand-overs.
func TestManySockets(t *testing.T) {
	const sockets, messages = 40, 25
	h := newHub(t, echo(nil), Options{PingInterval: 2 * time.Millisecond, PongTimeout: 5 * time.Second})
	var wg sync.WaitGroup
	errs := make(chan error, sockets)
	for i := range sockets {
		c := h.dial("/")
		wg.Go(func() {
			for j := range messages {
				want := fmt.Sprintf("socket %d message %d", i, j)
				if err := c.WriteMessage(gorilla.TextMessage, []byte(want)); err != nil {
					errs <- err
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, got, err := c.ReadMessage(); err != nil || string(got) != want {
					errs <- fmt.Errorf("got %q, %v; want %q", got, err, want)
					return
				}
			}
			_ = c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(ws.CloseNormal, ""))
			closeCode(t, c)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	h.settled()
}

// TestHalfFrameDropped: a client that stops in the middle of a frame is
// dropped by the running reader's deadline.
func TestHalfFrameDropped(t *testing.T) {
	disc := make(chan ws.Disconnect, 1)
	h := newHub(t, echo(disc), Options{PingInterval: 10 * time.Millisecond, PongTimeout: 50 * time.Millisecond})
	c := h.dial("/")
	// The client cannot answer pings: a pong would continue the frame.
	if _, err := c.NetConn().Write(maskedFrame(0x1, []byte("hello"))[:4]); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, disc, "disconnect"); got.Code != ws.CloseAbnormal {
		t.Errorf("app saw %+v, want Disconnect{1006}", got)
	}
	h.settled()
}

func TestShutdownDuringHandshake(t *testing.T) {
	connected := make(chan struct{})
	disc := make(chan core.Event, 1)
	app := core.AppFunc(func(ctx context.Context, _ *core.Scope, inbox core.Inbox, _ core.SendFunc) error {
		if _, err := inbox.Next(ctx); err != nil {
			return err
		}
		close(connected) // and never answer
		ev, err := inbox.Next(ctx)
		disc <- ev
		return err
	})
	h := newHub(t, app, Options{})
	dialed := make(chan *http.Response, 1)
	go func() {
		_, resp, _ := gorilla.DefaultDialer.Dial(h.url("/"), nil)
		dialed <- resp
	}()
	recv(t, connected, "connect")
	if err := h.a.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if resp := recv(t, dialed, "handshake answer"); resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("handshake answered %s, want 503", status(resp))
	}
	if got := recv(t, disc, "disconnect"); got != (ws.Disconnect{Code: ws.CloseGoingAway}) {
		t.Errorf("app saw %#v, want Disconnect{1001}", got)
	}
}

// TestTLS: a socket over TLS cannot be parked (tls.Conn buffers on its
// own); its reader stays and it works all the same.
func TestTLS(t *testing.T) {
	disc := make(chan ws.Disconnect, 1)
	rt := &core.Runtime{App: echo(disc), Logger: quiet}
	a := New(rt, Options{Logger: quiet})
	srv := httptest.NewTLSServer(a)
	t.Cleanup(func() { _ = a.Shutdown(t.Context()); srv.Close() })
	d := gorilla.Dialer{TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig}
	c, resp, err := d.Dial("wss"+strings.TrimPrefix(srv.URL, "https")+"/", nil)
	if err != nil {
		t.Fatalf("dial: %v (%s)", err, status(resp))
	}
	defer c.Close()
	for i := range 3 {
		roundTrip(t, c, fmt.Sprint("over TLS ", i))
	}
	_ = c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(ws.CloseNormal, ""))
	if got := recv(t, disc, "disconnect"); got.Code != ws.CloseNormal {
		t.Errorf("app saw %+v, want Disconnect{1000}", got)
	}
}
