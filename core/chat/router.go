package chat

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hubhq/hub/core"
)

// ErrUnknownBot ends a scope whose bot no BotRouter entry serves.
var ErrUnknownBot = errors.New("chat: no application for bot")

// BotRouter picks an Application by the scope's bot, so each bot of a
// platform serves its own consumer (config's routes.telegram list):
//
//	core.ProtocolTypeRouter{"telegram": chat.BotRouter{"support": helpdesk, "fun": echo}}
//
// The entry "" serves every bot not named.
type BotRouter map[string]core.Application

// Serve implements core.Application.
func (r BotRouter) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	return core.ServeResolved(ctx, r, scope, inbox, send)
}

// Resolve implements core.Resolver.
func (r BotRouter) Resolve(scope *core.Scope) (core.Application, *core.Scope, error) {
	app, ok := r[scope.Bot]
	if !ok {
		app, ok = r[""]
	}
	if !ok {
		return nil, scope, fmt.Errorf("%w %q (routed: %s)", ErrUnknownBot, scope.Bot, strings.Join(slices.Sorted(maps.Keys(r)), ", "))
	}
	return app, scope, nil
}
