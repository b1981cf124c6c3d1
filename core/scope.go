package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/hubhq/hub/core/layer"
)

// Scope is what persists for one connection or conversation: a WebSocket, a
// Telegram chat, an MQTT topic. Routers hand nested applications a shallow
// copy with their additions (route params), so an application may read every
// field but should treat the maps as read-only.
type Scope struct {
	// Type is the protocol: "websocket", "telegram", "mqtt", …
	Type string
	// Key names the conversation stably ("telegram:support:42"), so a
	// restarted hub resumes its state.
	Key string
	// Path is the request path (WebSocket, HTTP) or topic (MQTT).
	Path string
	// PathRemaining is the part of Path a nested URLRouter has still to match.
	PathRemaining string
	// RawQuery is the URL query string, without '?'.
	RawQuery string
	// Headers are the request headers; "Host" is included.
	Headers http.Header
	// Client is the remote address ("203.0.113.9:51234").
	Client string
	// Subprotocols are the WebSocket subprotocols the client offered.
	Subprotocols []string
	// Bot is the name of the bot a chat scope came through.
	Bot string
	// User is the authenticated user, set by auth middleware.
	User *User
	// Params are named route parameters ({room} in /ws/chat/{room}/).
	Params map[string]string
	// Extra holds protocol-specific values an adapter wants to pass on.
	Extra map[string]any

	// Channel is this instance's channel-layer name ("" without a layer).
	Channel string
	// Layer is the channel layer, nil when layers are switched off.
	Layer layer.Layer
	// State is this conversation's persistent key/value state, namespaced
	// per consumer.
	State *State

	groups *groupSet // shared by every copy of this scope
}

// User is who is on the other end of a scope.
type User struct {
	ID   string
	Name string
}

// Param returns a route parameter, or "".
func (s *Scope) Param(name string) string { return s.Params[name] }

// WithParams returns a copy of the scope with params added to its route
// parameters; the original's map is left untouched. Routers use it.
func (s *Scope) WithParams(params map[string]string) *Scope {
	c := *s
	if len(params) > 0 {
		c.Params = make(map[string]string, len(s.Params)+len(params))
		maps.Copy(c.Params, s.Params)
		maps.Copy(c.Params, params)
	}
	return &c
}

// ErrNoLayer is returned by layer helpers when no channel layer is configured.
var ErrNoLayer = errors.New("core: no channel layer configured")

// GroupAdd adds this instance's channel to a group. The runtime remembers it
// and leaves the group when the scope ends, whatever way it ends.
func (s *Scope) GroupAdd(ctx context.Context, group string) error {
	if s.Layer == nil || s.Channel == "" {
		return ErrNoLayer
	}
	if err := s.Layer.GroupAdd(ctx, group, s.Channel); err != nil {
		return fmt.Errorf("core: join group %s: %w", group, err)
	}
	s.groups.add(group)
	return nil
}

// GroupDiscard removes this instance's channel from a group.
func (s *Scope) GroupDiscard(ctx context.Context, group string) error {
	if s.Layer == nil || s.Channel == "" {
		return ErrNoLayer
	}
	s.groups.remove(group)
	return s.Layer.GroupDiscard(ctx, group, s.Channel)
}

// GroupSend sends a layer message to every member of a group.
func (s *Scope) GroupSend(ctx context.Context, group string, msg layer.Message) error {
	if s.Layer == nil {
		return ErrNoLayer
	}
	return s.Layer.GroupSend(ctx, group, msg)
}

// SendTo sends a layer message to one channel (another instance or a worker).
func (s *Scope) SendTo(ctx context.Context, channel string, msg layer.Message) error {
	if s.Layer == nil {
		return ErrNoLayer
	}
	return s.Layer.Send(ctx, channel, msg)
}

// groupSet records the groups an instance joined, so the runtime can leave
// them all when the scope ends. A scope joins a few groups, so a slice
// serves: an empty map of its own would cost an idle socket 0.25 KiB.
type groupSet struct {
	mu    sync.Mutex
	names []string
}

func (g *groupSet) add(name string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !slices.Contains(g.names, name) {
		g.names = append(g.names, name)
	}
}

func (g *groupSet) remove(name string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(g.names, name); i >= 0 {
		g.names = slices.Delete(g.names, i, i+1)
	}
}

func (g *groupSet) drain() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.names
	g.names = nil
	return out
}
