package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hubhq/hub/adapters/telegram"
	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/store"
)

// botRouter picks a chat scope's consumer by the bot it came through
// (Scope.Bot): the bot's own route, else the route for every bot.
type botRouter struct {
	byBot map[string]core.Application
	all   core.Application // nil: no route for every bot
}

// Serve implements core.Application.
func (r botRouter) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	return core.ServeResolved(ctx, r, scope, inbox, send)
}

// Resolve implements core.Resolver.
func (r botRouter) Resolve(scope *core.Scope) (core.Application, *core.Scope, error) {
	if app, ok := r.byBot[scope.Bot]; ok {
		return app, scope, nil
	}
	if r.all != nil {
		return r.all, scope, nil
	}
	return nil, scope, fmt.Errorf("%w for bot %q", core.ErrNoRoute, scope.Bot)
}

// serves reports whether the router has a consumer for bot.
func (r botRouter) serves(bot string) bool {
	_, ok := r.byBot[bot]
	return ok || r.all != nil
}

// chatApp builds the router of routes.<platform>.
func chatApp(b *builder, platform string, routes []config.ChatRoute) (botRouter, error) {
	r := botRouter{byBot: map[string]core.Application{}}
	for i, rt := range routes {
		at := fmt.Sprintf("routes.%s[%d]", platform, i)
		app, err := b.consumer(at, platform+" "+rt.Bot, rt.Consumer, rt.Options)
		if err != nil {
			return r, err
		}
		if rt.Bot == "" {
			r.all = app
		} else {
			r.byBot[rt.Bot] = app
		}
	}
	return r, nil
}

// startTelegram makes the Telegram adapter for the telegram bots that have
// a route, and mounts the webhooks of those in webhook mode.
func (s *Server) startTelegram(app botRouter, mux *http.ServeMux) error {
	var bots []telegram.BotConfig
	for i, b := range s.cfg.Bots {
		if b.Platform != telegram.Platform {
			continue
		}
		if !app.serves(b.Name) {
			s.log.Warn("bot has no route; not started", "bot", b.Name)
			continue
		}
		token, err := s.botToken(i, b)
		if err != nil {
			return err
		}
		bots = append(bots, telegram.BotConfig{
			Name:          b.Name,
			Token:         telegram.Token(token),
			APIURL:        b.APIURL,
			Mode:          b.Mode,
			WebhookURL:    b.WebhookURL,
			WebhookSecret: telegram.Token(b.WebhookSecret.Value()),
		})
	}
	if len(bots) == 0 {
		return nil
	}
	a, err := telegram.New(telegram.Options{
		Bots:        bots,
		Runtime:     s.runtime(telegram.Platform, app),
		IdleTimeout: s.cfg.Telegram.IdleTimeout,
		PollTimeout: s.cfg.Telegram.PollTimeout,
		Outbox:      s.db,
		Logger:      s.log.With("adapter", telegram.Platform),
	})
	if err != nil {
		return fmt.Errorf("server: telegram: %w", err)
	}
	for _, b := range bots {
		if b.Mode != telegram.Webhook {
			continue
		}
		h, err := a.Webhook(b.Name)
		if err != nil {
			return fmt.Errorf("server: telegram webhook %s: %w", b.Name, err)
		}
		mux.Handle("POST "+config.WebhookPath(b.Name), h)
	}
	s.adapters = append(s.adapters, adapter{telegram.Platform, a.Run})
	return nil
}

// botToken is the bot's token from the config, else the one `hub token add`
// stored under the bot's name. Neither error names the token itself.
func (s *Server) botToken(i int, b config.Bot) (string, error) {
	if tok := b.Token.Value(); tok != "" {
		return tok, nil
	}
	at := fmt.Sprintf("bots[%d].token", i)
	tok, platform, err := s.db.TokenGet(context.Background(), b.Name)
	switch {
	case errors.Is(err, store.ErrNoToken):
		return "", s.cfg.Errorf(at, "no token: set token: or run `hub token add %s %s`", b.Platform, b.Name)
	case err != nil:
		return "", fmt.Errorf("server: token of bot %s: %w", b.Name, err)
	case platform != b.Platform:
		return "", s.cfg.Errorf(at, "the stored token %q is for %s, not %s", b.Name, platform, b.Platform)
	}
	return tok, nil
}
