package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Routing errors an adapter may branch on (a WebSocket adapter answers
// ErrNoRoute with HTTP 404).
var (
	ErrUnknownProtocol = errors.New("core: no application for protocol")
	ErrNoRoute         = errors.New("core: no route")
)

// Resolver is implemented by applications that only choose another
// application for a scope: routers, and middleware that only adjusts the
// scope or refuses it. The runtime resolves them before the instance starts
// serving, so a consumer's loop runs directly under the instance goroutine —
// a shallow stack that idles at Go's smallest size, which matters at tens of
// thousands of open sockets.
type Resolver interface {
	Resolve(scope *Scope) (Application, *Scope, error)
}

// Resolve follows resolvers from app to the application that serves the
// scope, and the scope as the routers on the way shaped it.
func Resolve(app Application, scope *Scope) (Application, *Scope, error) {
	for {
		r, ok := app.(Resolver)
		if !ok {
			return app, scope, nil
		}
		next, s, err := r.Resolve(scope)
		if err != nil {
			return nil, scope, err
		}
		app, scope = next, s
	}
}

// ServeResolved is the Serve method of a Resolver: resolve, then serve.
func ServeResolved(ctx context.Context, r Resolver, scope *Scope, inbox Inbox, send SendFunc) error {
	app, s, err := Resolve(r.(Application), scope)
	if err != nil {
		return err
	}
	return app.Serve(ctx, s, inbox, send)
}

// ProtocolTypeRouter picks an Application by the scope's protocol type.
type ProtocolTypeRouter map[string]Application

// Serve implements Application.
func (r ProtocolTypeRouter) Serve(ctx context.Context, scope *Scope, inbox Inbox, send SendFunc) error {
	return ServeResolved(ctx, r, scope, inbox, send)
}

// Resolve implements Resolver.
func (r ProtocolTypeRouter) Resolve(scope *Scope) (Application, *Scope, error) {
	app, ok := r[scope.Type]
	if !ok {
		return nil, scope, fmt.Errorf("%w %q (routed: %s)", ErrUnknownProtocol, scope.Type, strings.Join(slices.Sorted(maps.Keys(r)), ", "))
	}
	return app, scope, nil
}

// Route is one URLRouter entry: a path pattern and the Application it leads to.
type Route struct {
	Pattern string
	App     Application
	segs    []string
}

// Path makes a Route, panicking on a bad pattern like regexp.MustCompile;
// use ParsePath for patterns from a config file.
//
// A pattern is a path whose segments may be {name} (one segment) or, last,
// {name...} (the rest of the path). A route whose App is itself a URLRouter
// matches a prefix and hands the rest of the path on, so routers nest.
func Path(pattern string, app Application) Route {
	r, err := ParsePath(pattern, app)
	if err != nil {
		panic(err)
	}
	return r
}

// ParsePath makes a Route or says what is wrong with the pattern.
func ParsePath(pattern string, app Application) (Route, error) {
	if !strings.HasPrefix(pattern, "/") {
		return Route{}, fmt.Errorf("core: route pattern %q must start with /", pattern)
	}
	segs := strings.Split(pattern, "/")[1:]
	seen := map[string]bool{}
	for i, s := range segs {
		name, isParam := paramName(s)
		if !isParam {
			if strings.ContainsAny(s, "{}") {
				return Route{}, fmt.Errorf("core: route pattern %q: segment %q must be a whole {param}", pattern, s)
			}
			continue
		}
		rest := strings.HasSuffix(name, "...")
		name = strings.TrimSuffix(name, "...")
		switch {
		case name == "":
			return Route{}, fmt.Errorf("core: route pattern %q: empty parameter name", pattern)
		case seen[name]:
			return Route{}, fmt.Errorf("core: route pattern %q: parameter %q appears twice", pattern, name)
		case rest && i != len(segs)-1:
			return Route{}, fmt.Errorf("core: route pattern %q: {%s...} must be last", pattern, name)
		}
		seen[name] = true
	}
	return Route{Pattern: pattern, App: app, segs: segs}, nil
}

func paramName(seg string) (string, bool) {
	if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}

// match matches path against the route. With prefix set, the pattern may
// match the beginning of the path; rest is what is left, starting with '/'.
func (r Route) match(path string, prefix bool) (params map[string]string, rest string, ok bool) {
	parts := strings.Split(path, "/")[1:]
	segs := r.segs
	if prefix && len(segs) > 0 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1] // "/api/" as a prefix is "/api" + "/…"
	}
	for i, seg := range segs {
		name, isParam := paramName(seg)
		if isParam && strings.HasSuffix(name, "...") {
			params = setParam(params, strings.TrimSuffix(name, "..."), strings.Join(parts[i:], "/"))
			return params, "", true
		}
		if i >= len(parts) {
			return nil, "", false
		}
		switch {
		case isParam && parts[i] != "":
			params = setParam(params, name, parts[i])
		case isParam || seg != parts[i]:
			return nil, "", false
		}
	}
	if len(parts) == len(segs) {
		return params, "", true
	}
	if prefix {
		return params, "/" + strings.Join(parts[len(segs):], "/"), true
	}
	return nil, "", false
}

func setParam(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = make(map[string]string, 1)
	}
	m[k] = v
	return m
}

// URLRouter picks an Application by the scope's path: the first matching
// route wins. Matched parameters are added to the scope's Params.
type URLRouter []Route

// Serve implements Application.
func (u URLRouter) Serve(ctx context.Context, scope *Scope, inbox Inbox, send SendFunc) error {
	return ServeResolved(ctx, u, scope, inbox, send)
}

// Resolve implements Resolver.
func (u URLRouter) Resolve(scope *Scope) (Application, *Scope, error) {
	path := scope.PathRemaining
	if path == "" {
		path = scope.Path
	}
	for _, r := range u {
		_, nested := r.App.(URLRouter)
		params, rest, ok := r.match(path, nested)
		if !ok {
			continue
		}
		s := scope.WithParams(params)
		s.PathRemaining = rest
		return r.App, s, nil
	}
	return nil, scope, fmt.Errorf("%w for path %q", ErrNoRoute, scope.Path)
}

// Named gives an application its own state namespace: scope.State is the
// conversation's state as seen by the consumer called name. The config
// wiring names every plugin this way.
func Named(name string, app Application) Application {
	return named{name, app}
}

type named struct {
	name string
	app  Application
}

func (n named) Serve(ctx context.Context, scope *Scope, inbox Inbox, send SendFunc) error {
	return ServeResolved(ctx, n, scope, inbox, send)
}

func (n named) Resolve(scope *Scope) (Application, *Scope, error) {
	s := *scope
	if s.State != nil {
		s.State = s.State.Namespace(n.name)
	}
	return n.app, &s, nil
}
