package server

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/time/rate"

	"github.com/hubhq/hub/adapters/discord"
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

// chatUnits makes one unit per bot that has a route: a Telegram or Discord
// adapter with that bot alone. A bot without a route is not started.
func (s *Server) chatUnits(cfg *config.Config, r *routing, us units) error {
	for i, b := range cfg.Bots {
		router := r.telegram
		if b.Platform == discord.Platform {
			router = r.discord
		}
		if !router.serves(b.Name) {
			s.log.Warn("bot has no route; not started", "bot", b.Name)
			continue
		}
		token, err := s.botToken(cfg, i, b)
		if err != nil {
			return err
		}
		var u *unit
		if b.Platform == discord.Platform {
			u, err = s.discordUnit(b, token)
		} else {
			u, err = s.telegramUnit(cfg, b, token)
		}
		if err != nil {
			return err
		}
		us[b.Platform+":"+b.Name] = u
	}
	return nil
}

// telegramUnit makes the Telegram adapter of one bot.
func (s *Server) telegramUnit(cfg *config.Config, b config.Bot, token string) (*unit, error) {
	bot := telegram.BotConfig{
		Name:          b.Name,
		Token:         telegram.Token(token),
		APIURL:        b.APIURL,
		Mode:          b.Mode,
		WebhookURL:    b.WebhookURL,
		WebhookSecret: b.WebhookSecret,
	}
	a, err := telegram.New(telegram.Options{
		Bots:        []telegram.BotConfig{bot},
		Runtime:     s.runtimes.telegram,
		IdleTimeout: cfg.Telegram.IdleTimeout,
		PollTimeout: cfg.Telegram.PollTimeout,
		Limits:      telegramLimits(cfg.Telegram.Limits),
		Outbox:      s.db,
		Logger:      s.log, // the adapter adds adapter=telegram itself
	})
	if err != nil {
		return nil, fmt.Errorf("server: telegram: %w", err)
	}
	u := &unit{name: "telegram adapter of bot " + b.Name, spec: []any{bot, cfg.Telegram}, run: a.Run}
	if bot.Mode == telegram.Webhook {
		u.hookPath = "POST " + config.WebhookPath(b.Name)
		if u.hook, err = a.Webhook(b.Name); err != nil {
			return nil, fmt.Errorf("server: telegram webhook %s: %w", b.Name, err)
		}
	}
	return u, nil
}

// telegramLimits are the adapter's outgoing rates from telegram.limits.
func telegramLimits(l config.TelegramLimits) telegram.Limits {
	return telegram.Limits{
		Bot:   rate.Limit(l.Bot.PerSecond()),
		Chat:  rate.Limit(l.Chat.PerSecond()),
		Group: rate.Limit(l.Group.PerSecond()),
		Burst: l.Burst,
	}
}

// botToken is the bot's token from the config, else the one `hub token add`
// stored under the bot's name. Neither error names the token itself.
func (s *Server) botToken(cfg *config.Config, i int, b config.Bot) (string, error) {
	if tok := b.Token.Value(); tok != "" {
		return tok, nil
	}
	at := fmt.Sprintf("bots[%d].token", i)
	tok, platform, err := s.db.TokenGet(context.Background(), b.Name)
	switch {
	case errors.Is(err, store.ErrNoToken):
		return "", cfg.Errorf(at, "no token: set token: or run `hub token add %s %s`", b.Platform, b.Name)
	case err != nil:
		return "", fmt.Errorf("server: token of bot %s: %w", b.Name, err)
	case platform != b.Platform:
		return "", cfg.Errorf(at, "the stored token %q is for %s, not %s", b.Name, platform, b.Platform)
	}
	return tok, nil
}
