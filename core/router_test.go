package core_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/hubhq/hub/core"
)

// named is an app that reports which route it is and the params it got.
func named(name string, got *string, params *map[string]string) core.Application {
	return core.AppFunc(func(_ context.Context, s *core.Scope, _ core.Inbox, _ core.SendFunc) error {
		*got, *params = name, s.Params
		return nil
	})
}

func TestURLRouter(t *testing.T) {
	var got string
	var params map[string]string
	api := core.URLRouter{
		core.Path("/users/{id}/", named("user", &got, &params)),
		core.Path("/files/{path...}", named("files", &got, &params)),
	}
	router := core.URLRouter{
		core.Path("/ws/chat/{room}/", named("chat", &got, &params)),
		core.Path("/ws/chat/{room}/{topic}/", named("topic", &got, &params)),
		core.Path("/api/{version}/", api),
		core.Path("/", named("root", &got, &params)),
	}
	cases := []struct {
		path, want string
		params     map[string]string
	}{
		{"/ws/chat/lobby/", "chat", map[string]string{"room": "lobby"}},
		{"/ws/chat/lobby/news/", "topic", map[string]string{"room": "lobby", "topic": "news"}},
		{"/api/v1/users/42/", "user", map[string]string{"version": "v1", "id": "42"}},
		{"/api/v2/files/a/b.txt", "files", map[string]string{"version": "v2", "path": "a/b.txt"}},
		{"/", "root", nil},
		{"/ws/chat//", "", nil},     // an empty segment is no room
		{"/ws/chat/lobby", "", nil}, // trailing slash matters, as in Django
		{"/api/v1/nothing/", "", nil},
	}
	for _, c := range cases {
		got, params = "", nil
		err := router.Serve(context.Background(), &core.Scope{Path: c.path}, nil, nil)
		if c.want == "" {
			if !errors.Is(err, core.ErrNoRoute) {
				t.Errorf("%s: err = %v, want ErrNoRoute", c.path, err)
			}
			continue
		}
		if err != nil || got != c.want || !maps.Equal(params, c.params) {
			t.Errorf("%s: routed to %q %v (err %v), want %q %v", c.path, got, params, err, c.want, c.params)
		}
	}
}

func TestParsePathRejectsBadPatterns(t *testing.T) {
	for _, p := range []string{"ws/chat/", "/ws/{}/", "/ws/{a}/{a}/", "/ws/{rest...}/more/", "/ws/x{room}/"} {
		if _, err := core.ParsePath(p, nil); err == nil {
			t.Errorf("pattern %q accepted", p)
		}
	}
}

func TestProtocolTypeRouter(t *testing.T) {
	var got string
	var params map[string]string
	r := core.ProtocolTypeRouter{"websocket": named("ws", &got, &params)}
	if err := r.Serve(context.Background(), &core.Scope{Type: "websocket"}, nil, nil); err != nil || got != "ws" {
		t.Fatalf("routed to %q, %v", got, err)
	}
	err := r.Serve(context.Background(), &core.Scope{Type: "carrier-pigeon"}, nil, nil)
	if !errors.Is(err, core.ErrUnknownProtocol) {
		t.Fatalf("unknown protocol: %v", err)
	}
	if want := `core: no application for protocol "carrier-pigeon" (routed: websocket)`; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) core.Middleware {
		return func(next core.Application) core.Application {
			return core.AppFunc(func(ctx context.Context, s *core.Scope, in core.Inbox, send core.SendFunc) error {
				order = append(order, name)
				return next.Serve(ctx, s, in, send)
			})
		}
	}
	app := core.Chain(core.AppFunc(func(context.Context, *core.Scope, core.Inbox, core.SendFunc) error {
		order = append(order, "app")
		return nil
	}), mw("outer"), mw("inner"))
	app.Serve(context.Background(), &core.Scope{}, nil, nil)
	if want := []string{"outer", "inner", "app"}; !equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
