package websocket_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/websocket"
)

func TestOriginValidator(t *testing.T) {
	cases := []struct {
		name    string
		allowed []string
		host    string
		origin  string
		ok      bool
	}{
		{"same host by default", nil, "127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"other site refused by default", nil, "127.0.0.1:8080", "https://evil.example", false},
		{"same host, other port refused", nil, "127.0.0.1:8080", "http://127.0.0.1:9090", false},
		{"no origin: not a browser", nil, "127.0.0.1:8080", "", true},
		{"malformed origin", nil, "127.0.0.1:8080", "::::", false},
		{"host entry", []string{"chat.example.com"}, "hub:1", "https://chat.example.com", true},
		{"host entry ignores port", []string{"chat.example.com"}, "hub:1", "https://chat.example.com:8443", true},
		{"host:port entry", []string{"chat.example.com:8443"}, "hub:1", "https://chat.example.com:9443", false},
		{"wildcard subdomain", []string{"*.example.com"}, "hub:1", "https://a.b.example.com", true},
		{"wildcard is not a suffix trick", []string{"*.example.com"}, "hub:1", "https://evilexample.com", false},
		{"full origin scheme matters", []string{"https://chat.example.com"}, "hub:1", "http://chat.example.com", false},
		{"full origin", []string{"https://chat.example.com"}, "hub:1", "https://chat.example.com", true},
		{"star", []string{"*"}, "hub:1", "https://anything.example", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var served bool
			var sent []core.Event
			app := websocket.OriginValidator(c.allowed...)(core.AppFunc(func(context.Context, *core.Scope, core.Inbox, core.SendFunc) error {
				served = true
				return nil
			}))
			h := http.Header{"Host": {c.host}}
			if c.origin != "" {
				h.Set("Origin", c.origin)
			}
			app.Serve(context.Background(), &core.Scope{Headers: h}, nil, func(_ context.Context, ev core.Event) error {
				sent = append(sent, ev)
				return nil
			})
			if served != c.ok {
				t.Fatalf("served = %v, want %v", served, c.ok)
			}
			if !c.ok && (len(sent) != 1 || sent[0].Type() != "websocket.close") {
				t.Fatalf("refusal sent %v, want one websocket.close (HTTP 403 before accept)", sent)
			}
		})
	}
}
