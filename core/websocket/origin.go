package websocket

import (
	"context"
	"net"
	"net/url"
	"strings"

	"github.com/hubhq/hub/core"
)

// OriginValidator refuses WebSocket handshakes whose Origin header is not
// allowed, before the application sees them (the client gets HTTP 403).
//
// Each allowed entry is a host ("example.com"), a host with port
// ("example.com:8443"), a wildcard subdomain ("*.example.com"), a full
// origin ("https://example.com") or "*". With no entries, only the hub's own
// host is allowed — the origin a browser sends for a page the hub served
// itself — so a page on another site cannot open sockets into the hub with
// its visitors' cookies.
//
// A request without an Origin header is allowed: browsers always send one on
// a WebSocket handshake, so its absence means a non-browser client, which
// cross-site socket hijacking does not concern.
func OriginValidator(allowed ...string) core.Middleware {
	return func(next core.Application) core.Application {
		return originValidator{allowed, next}
	}
}

type originValidator struct {
	allowed []string
	next    core.Application
}

func (v originValidator) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	return core.ServeResolved(ctx, v, scope, inbox, send)
}

// Resolve implements core.Resolver: the next application, or one that
// refuses the handshake.
func (v originValidator) Resolve(scope *core.Scope) (core.Application, *core.Scope, error) {
	origin := scope.Headers.Get("Origin")
	if origin == "" || originAllowed(origin, scope.Headers.Get("Host"), v.allowed) {
		return v.next, scope, nil
	}
	return refuseOrigin, scope, nil
}

var refuseOrigin = core.AppFunc(func(ctx context.Context, _ *core.Scope, _ core.Inbox, send core.SendFunc) error {
	return send(ctx, Close{Code: ClosePolicy, Reason: "origin not allowed"})
})

func originAllowed(origin, host string, allowed []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if len(allowed) == 0 {
		return strings.EqualFold(u.Host, host)
	}
	for _, a := range allowed {
		switch {
		case a == "*":
			return true
		case strings.Contains(a, "://"):
			if strings.EqualFold(strings.TrimSuffix(a, "/"), u.Scheme+"://"+u.Host) {
				return true
			}
		case strings.HasPrefix(a, "*."):
			if h := hostOnly(u.Host); strings.HasSuffix(strings.ToLower(h), strings.ToLower(a[1:])) {
				return true
			}
		case strings.Contains(a, ":"):
			if strings.EqualFold(a, u.Host) {
				return true
			}
		default:
			if strings.EqualFold(a, hostOnly(u.Host)) {
				return true
			}
		}
	}
	return false
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
