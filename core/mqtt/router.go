package mqtt

import (
	"context"
	"fmt"
	"strings"

	"github.com/hubhq/hub/core"
)

// TopicRoute is one TopicRouter entry: a topic pattern and the Application
// it leads to.
type TopicRoute struct {
	Pattern string
	App     core.Application
	levels  []string
}

// Topic makes a TopicRoute, panicking on a bad pattern like
// regexp.MustCompile; use ParseTopic for patterns from a config file.
//
// A pattern is an MQTT topic filter whose levels may also be {name} (one
// level, captured into the scope's Params) or, last, {name...} (the rest of
// the topic, captured). + and # are MQTT's uncaptured wildcards.
func Topic(pattern string, app core.Application) TopicRoute {
	r, err := ParseTopic(pattern, app)
	if err != nil {
		panic(err)
	}
	return r
}

// ParseTopic makes a TopicRoute or says what is wrong with the pattern.
func ParseTopic(pattern string, app core.Application) (TopicRoute, error) {
	if pattern == "" {
		return TopicRoute{}, fmt.Errorf("mqtt: empty topic pattern")
	}
	levels := strings.Split(pattern, "/")
	seen := map[string]bool{}
	for i, l := range levels {
		if err := checkLevel(l, i == len(levels)-1, seen); err != nil {
			return TopicRoute{}, fmt.Errorf("mqtt: topic pattern %q: %w", pattern, err)
		}
	}
	return TopicRoute{Pattern: pattern, App: app, levels: levels}, nil
}

func checkLevel(l string, last bool, seen map[string]bool) error {
	name, capture := captureName(l)
	multi := l == "#" || strings.HasSuffix(name, "...")
	name = strings.TrimSuffix(name, "...")
	switch {
	case multi && !last:
		return fmt.Errorf("level %q must be last", l)
	case capture && name == "":
		return fmt.Errorf("empty capture name")
	case capture && seen[name]:
		return fmt.Errorf("capture %q appears twice", name)
	case !capture && l != "+" && l != "#" && strings.ContainsAny(l, "+#{}"):
		return fmt.Errorf("level %q: wildcards and captures must be a whole level", l)
	}
	seen[name] = capture
	return nil
}

func captureName(level string) (string, bool) {
	if len(level) > 2 && level[0] == '{' && level[len(level)-1] == '}' {
		return level[1 : len(level)-1], true
	}
	return "", false
}

// match matches a topic name against the route, MQTT-style: + and {x}
// match one level (even an empty one), # and {x...} the rest (even none),
// and a wildcard never matches the first level of a $SYS-style topic.
func (r TopicRoute) match(topic string) (params map[string]string, ok bool) {
	parts := strings.Split(topic, "/")
	for i, l := range r.levels {
		name, capture := captureName(l)
		wild := capture || l == "+" || l == "#"
		if i == 0 && wild && strings.HasPrefix(topic, "$") {
			return nil, false
		}
		if l == "#" || strings.HasSuffix(name, "...") {
			if capture {
				params = setParam(params, strings.TrimSuffix(name, "..."), strings.Join(parts[i:], "/"))
			}
			return params, true
		}
		if i >= len(parts) || (!wild && l != parts[i]) {
			return nil, false
		}
		if capture {
			params = setParam(params, name, parts[i])
		}
	}
	return params, len(parts) == len(r.levels)
}

func setParam(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = make(map[string]string, 1)
	}
	m[k] = v
	return m
}

// filter is the MQTT subscription filter that receives what the route
// matches.
func (r TopicRoute) filter() string {
	out := make([]string, len(r.levels))
	for i, l := range r.levels {
		name, capture := captureName(l)
		switch {
		case capture && strings.HasSuffix(name, "..."):
			out[i] = "#"
		case capture:
			out[i] = "+"
		default:
			out[i] = l
		}
	}
	return strings.Join(out, "/")
}

// TopicRouter picks an Application by the scope's topic (its Path): the
// first matching route wins. Captured levels are added to the scope's Params.
type TopicRouter []TopicRoute

// Serve implements core.Application.
func (t TopicRouter) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	return core.ServeResolved(ctx, t, scope, inbox, send)
}

// Resolve implements core.Resolver.
func (t TopicRouter) Resolve(scope *core.Scope) (core.Application, *core.Scope, error) {
	for _, r := range t {
		if params, ok := r.match(scope.Path); ok {
			return r.App, scope.WithParams(params), nil
		}
	}
	return nil, scope, fmt.Errorf("%w for topic %q", core.ErrNoRoute, scope.Path)
}

// Filters returns the MQTT subscription filters that receive every topic the
// router matches, in route order without duplicates: {x} becomes + and
// {x...} becomes #.
func (t TopicRouter) Filters() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range t {
		if f := r.filter(); !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
