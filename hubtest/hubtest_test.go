package hubtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/websocket"
	"github.com/hubhq/hub/hubtest"
)

// raw is an application written against core alone, so these tests check
// the communicator and not a consumer: it accepts, echoes text, answers
// "bin" with a binary frame, "close" with a close 4000, "fail" with an
// error, "quit" by returning, and reports the Disconnect code it got.
func raw(disconnects chan<- int) core.Application {
	return core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			switch ev := ev.(type) {
			case websocket.Connect:
				if scope.RawQuery == "deny=1" {
					err = send(ctx, websocket.Close{Code: 4403})
				} else {
					err = send(ctx, websocket.Accept{Subprotocol: strings.Join(scope.Subprotocols, ",")})
				}
			case websocket.Receive:
				switch ev.Text {
				case "bin":
					err = send(ctx, websocket.Send{Bytes: []byte{7}})
				case "close":
					err = send(ctx, websocket.Close{Code: 4000, Reason: "asked"})
				case "fail":
					return errors.New("asked to fail")
				case "quit":
					return nil
				case "who":
					err = send(ctx, websocket.Send{Text: scope.Headers.Get("Host") + " " + scope.Headers.Get("X-Test") + " " + scope.Client})
				default:
					err = send(ctx, websocket.Send{Text: ev.Text})
				}
			case websocket.Disconnect:
				if disconnects != nil {
					disconnects <- ev.Code
				}
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
}

func TestConversation(t *testing.T) {
	c := hubtest.WebSocket(t, raw(nil), "/ws/", hubtest.Subprotocols("a", "b"),
		hubtest.Headers(http.Header{"X-Test": {"yes"}}),
		hubtest.ScopeFunc(func(s *core.Scope) { s.Client = "198.51.100.7:1" }))
	if ok, sub := c.Connect(); !ok || sub != "a,b" {
		t.Fatalf("Connect = %v, %q", ok, sub)
	}
	c.SendText("who")
	if got := c.ReceiveText(); got != "testserver yes 198.51.100.7:1" {
		t.Fatalf("got %q", got)
	}
	c.SendJSON(map[string]int{"n": 1})
	var v map[string]int
	c.ReceiveJSON(&v)
	if v["n"] != 1 {
		t.Fatalf("got %v", v)
	}
	c.SendText("bin")
	if got := c.ReceiveBytes(); len(got) != 1 || got[0] != 7 {
		t.Fatalf("got % x", got)
	}
	c.ExpectNothing()
}

func TestDenied(t *testing.T) {
	got := make(chan int, 1)
	c := hubtest.WebSocket(t, raw(got), "/ws/?deny=1")
	if code := c.ConnectDenied(); code != 4403 {
		t.Fatalf("code %d", code)
	}
	select {
	case code := <-got:
		if code != websocket.CloseAbnormal {
			t.Fatalf("app saw Disconnect %d, want 1006 for a socket that never opened", code)
		}
	case <-time.After(hubtest.DefaultTimeout):
		t.Fatal("app saw no Disconnect after the denial")
	}
}

// TestAdapterPart checks the closes the communicator plays for the adapter.
func TestAdapterPart(t *testing.T) {
	tests := []struct {
		send       string
		close      int
		disconnect int // the Disconnect code the app sees; 0: none
		err        bool
	}{
		{"close", 4000, 4000, false}, // the app's close is answered with a Disconnect
		{"quit", websocket.CloseNormal, 0, false},
		{"fail", websocket.CloseInternalError, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.send, func(t *testing.T) {
			got := make(chan int, 1)
			c := hubtest.WebSocket(t, raw(got), "/ws/")
			c.Connect()
			c.SendText(tt.send)
			c.ExpectClose(tt.close)
			if err := c.Wait(); (err != nil) != tt.err {
				t.Fatalf("Wait = %v", err)
			}
			select {
			case code := <-got:
				if code != tt.disconnect {
					t.Fatalf("app saw Disconnect %d, want %d", code, tt.disconnect)
				}
			default:
				if tt.disconnect != 0 {
					t.Fatalf("app saw no Disconnect, want %d", tt.disconnect)
				}
			}
		})
	}
}

func TestClientDisconnect(t *testing.T) {
	got := make(chan int, 1)
	c := hubtest.WebSocket(t, raw(got), "/ws/")
	c.Connect()
	c.Disconnect(4321)
	if code := <-got; code != 4321 {
		t.Fatalf("app saw %d", code)
	}
}

// TestInboxFull closes a flooded scope with 1013 under the CloseScope policy.
func TestInboxFull(t *testing.T) {
	release := make(chan struct{})
	app := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		if _, err := inbox.Next(ctx); err != nil {
			return err
		}
		if err := send(ctx, websocket.Accept{}); err != nil {
			return err
		}
		select { // stop reading, so the inbox fills
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	c := hubtest.WebSocket(t, app, "/ws/", hubtest.Inbox(1, core.CloseScope))
	defer close(release)
	c.Connect()
	c.SendText("1")
	c.SendText("2") // overflows the one-slot inbox: the hub closes the socket
	c.ExpectClose(websocket.CloseTryAgainLater)
	if err := c.Wait(); !errors.Is(err, core.ErrInboxFull) {
		t.Fatalf("Wait = %v", err)
	}
}

func TestHubSharesLayerAndStore(t *testing.T) {
	mem := layer.NewMemory(layer.Options{})
	hub := hubtest.NewHub(t, hubtest.Layer(mem))
	a, b := hub.WebSocket(raw(nil), "/a/"), hub.WebSocket(raw(nil), "/b/")
	a.Connect()
	b.Connect()
	if a.Scope().Layer != mem || b.Scope().Layer != mem {
		t.Fatal("communicators do not share the hub's layer")
	}
	if err := a.Scope().State.Set("k", "v"); err != nil {
		t.Fatal(err)
	}
	hub.Restart()
	a.ExpectClose(websocket.CloseGoingAway)
	c := hub.WebSocket(raw(nil), "/c/")
	if got := c.Scope().State.Of(a.Scope().Key).String("k", ""); got != "v" {
		t.Fatalf("state after restart = %q", got)
	}
}

// fakeT records the first failure instead of failing the real test.
type fakeT struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn with a fakeT and returns the failure it reported, "" if none.
func run(t *testing.T, fn func(t testing.TB)) string {
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
	}()
	<-done
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.failed
}

func TestFailureMessages(t *testing.T) {
	silent := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		<-ctx.Done()
		return nil
	})
	tests := []struct {
		name string
		fn   func(t testing.TB)
		want string
	}{
		{"denied expected", func(t testing.TB) { hubtest.WebSocket(t, raw(nil), "/ws/").ConnectDenied() }, "connect was accepted; want it denied"},
		{"accept expected", func(t testing.TB) { hubtest.WebSocket(t, raw(nil), "/ws/?deny=1").Connect() }, "connect was denied (close code 4403)"},
		{"no answer", func(t testing.TB) {
			hubtest.WebSocket(t, silent, "/ws/", hubtest.Timeout(20e6)).Connect()
		}, "the application sent nothing within 20ms"},
		{"text wanted", func(t testing.TB) {
			c := hubtest.WebSocket(t, raw(nil), "/ws/")
			c.Connect()
			c.SendText("bin")
			c.ReceiveText()
		}, "want a text frame, got a binary frame (07)"},
		{"nothing wanted", func(t testing.TB) {
			c := hubtest.WebSocket(t, raw(nil), "/ws/")
			c.Connect()
			c.SendText("hi")
			c.ExpectNothing()
		}, `want nothing, got a text frame "hi"`},
		{"other close", func(t testing.TB) {
			c := hubtest.WebSocket(t, raw(nil), "/ws/")
			c.Connect()
			c.SendText("close")
			c.ExpectClose(1000)
		}, `want a close with code 1000, got websocket.close (code 4000, reason "asked")`},
		{"not JSON", func(t testing.TB) {
			c := hubtest.WebSocket(t, raw(nil), "/ws/")
			c.Connect()
			c.SendText("plain")
			var v any
			c.ReceiveJSON(&v)
		}, `text frame "plain" is not JSON`},
		{"send after end", func(t testing.TB) {
			c := hubtest.WebSocket(t, raw(nil), "/ws/")
			c.Connect()
			c.SendText("quit")
			c.Wait()
			c.SendText("anyone?")
		}, "the application has already returned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, tt.fn)
			if !strings.Contains(got, tt.want) {
				t.Fatalf("failure %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestApplication(t *testing.T) {
	// A worker-style application: it doubles every layer message's n.
	double := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			m := ev.(layer.Message)
			if err := send(ctx, layer.Message{"type": "doubled", "n": 2 * m["n"].(int)}); err != nil {
				return err
			}
		}
	})
	c := hubtest.Application(t, double, &core.Scope{Type: "channel", Key: "channel:double"})
	c.SendInput(layer.Message{"type": "double", "n": 21})
	ev, err := c.ReceiveOutput(0)
	if err != nil || ev.(layer.Message)["n"] != 42 {
		t.Fatalf("got %v, %v", ev, err)
	}
	c.ExpectNothing()
}
