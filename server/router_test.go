package server

import (
	"context"
	"errors"
	"testing"

	"github.com/hubhq/hub/core"
)

// named is an application that only has a name, to see which one a router picks.
type named string

func (named) Serve(context.Context, *core.Scope, core.Inbox, core.SendFunc) error { return nil }

func TestBotRouter(t *testing.T) {
	perBot := botRouter{byBot: map[string]core.Application{"support": named("support")}}
	withAll := botRouter{byBot: perBot.byBot, all: named("all")}
	tests := []struct {
		router botRouter
		bot    string
		want   core.Application
	}{
		{perBot, "support", named("support")},
		{perBot, "sales", nil},
		{withAll, "support", named("support")},
		{withAll, "sales", named("all")},
	}
	for _, tt := range tests {
		app, _, err := tt.router.Resolve(&core.Scope{Bot: tt.bot})
		if app != tt.want || (tt.want == nil) != errors.Is(err, core.ErrNoRoute) {
			t.Errorf("bot %s: %v, %v; want %v", tt.bot, app, err, tt.want)
		}
	}
}

func TestBrokerRouter(t *testing.T) {
	r := brokerRouter{"home": nil}
	if _, _, err := r.Resolve(&core.Scope{Key: "mqtt:home:a/b"}); err != nil {
		t.Errorf("home: %v", err)
	}
	if _, _, err := r.Resolve(&core.Scope{Key: "mqtt:office:a:b"}); !errors.Is(err, core.ErrNoRoute) {
		t.Errorf("office: %v, want ErrNoRoute", err)
	}
}
