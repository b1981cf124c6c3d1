package websocket

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	ws "github.com/hubhq/hub/core/websocket"
	"github.com/hubhq/hub/internal/poll"
)

// hub is one adapter on a loopback server, with what its applications saw.
type hub struct {
	t   testing.TB
	rt  *core.Runtime
	mem *layer.Memory
	a   *Adapter
	srv *httptest.Server
}

// newHub serves app through a fresh runtime (with an in-memory layer) and
// adapter; cleanup shuts both down.
func newHub(t testing.TB, app core.Application, opts Options) *hub {
	t.Helper()
	return newHubRuntime(t, &core.Runtime{App: app}, opts)
}

func newHubRuntime(t testing.TB, rt *core.Runtime, opts Options) *hub {
	t.Helper()
	mem := layer.NewMemory(layer.Options{})
	rt.Layer = mem
	rt.Logger = quiet
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	h := &hub{t: t, rt: rt, mem: mem}
	h.a = New(rt, opts)
	h.srv = httptest.NewServer(h.a)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		h.srv.Close()
	})
	return h
}

var quiet = slog.New(slog.DiscardHandler)

func (h *hub) url(path string) string { return "ws" + strings.TrimPrefix(h.srv.URL, "http") + path }

// dial opens a socket; the test fails unless the handshake succeeds.
func (h *hub) dial(path string) *gorilla.Conn {
	h.t.Helper()
	c, resp, err := gorilla.DefaultDialer.Dial(h.url(path), nil)
	if err != nil {
		h.t.Fatalf("dial %s: %v (%s)", path, err, status(resp))
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func status(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

// patience bounds a wait (poll.Until) for what must happen.
const patience = 10 * time.Second

// settled waits until every instance and connection of the hub is gone.
func (h *hub) settled() {
	h.t.Helper()
	poll.Until(h.t, patience, "instances and connections to end", func() bool {
		return h.rt.Metrics.Live() == 0 && h.a.Conns() == 0
	})
}

// recv waits for one value from ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// echo is the test's consumer: it accepts (choosing the first offered
// subprotocol), echoes every frame, and reports its Disconnect.
func echo(disc chan<- ws.Disconnect) core.AppFunc {
	return func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			switch ev := ev.(type) {
			case ws.Connect:
				acc := ws.Accept{}
				if len(scope.Subprotocols) > 0 {
					acc.Subprotocol = scope.Subprotocols[len(scope.Subprotocols)-1]
				}
				if err := send(ctx, acc); err != nil {
					return err
				}
			case ws.Receive:
				if err := send(ctx, ws.Send(ev)); err != nil {
					return err
				}
			case ws.Disconnect:
				if disc != nil {
					disc <- ev
				}
				return nil
			}
		}
	}
}

// closeCode reads until the socket fails and returns the close code the
// server sent (-1 if it sent none).
func closeCode(t testing.TB, c *gorilla.Conn) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *gorilla.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		return -1, err.Error()
	}
}

// roundTrip sends text and expects it back.
func roundTrip(t testing.TB, c *gorilla.Conn, text string) {
	t.Helper()
	if err := c.WriteMessage(gorilla.TextMessage, []byte(text)); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	kind, got, err := c.ReadMessage()
	if err != nil || kind != gorilla.TextMessage || string(got) != text {
		t.Fatalf("echo of %q: got kind %d %q, %v", text, kind, got, err)
	}
}
