package chat_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

func TestBotRouter(t *testing.T) {
	named := func(name string) core.Application {
		return core.AppFunc(func(ctx context.Context, s *core.Scope, in core.Inbox, send core.SendFunc) error {
			return send(ctx, chat.Send{Text: name})
		})
	}
	serve := func(r chat.BotRouter, bot string) (string, error) {
		var got string
		err := r.Serve(context.Background(), &core.Scope{Bot: bot}, nil, func(_ context.Context, ev core.Event) error {
			got = ev.(chat.Send).Text
			return nil
		})
		return got, err
	}
	r := chat.BotRouter{"support": named("helpdesk"), "fun": named("echo")}
	if got, err := serve(r, "fun"); got != "echo" || err != nil {
		t.Fatalf("fun: %q, %v", got, err)
	}
	if _, err := serve(r, "other"); !errors.Is(err, chat.ErrUnknownBot) || err.Error() != `chat: no application for bot "other" (routed: fun, support)` {
		t.Fatalf("unknown bot: %v", err)
	}
	r[""] = named("default")
	if got, err := serve(r, "other"); got != "default" || err != nil {
		t.Fatalf("default: %q, %v", got, err)
	}
}
