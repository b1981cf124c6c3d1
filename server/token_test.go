package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/config"
	_ "github.com/hubhq/hub/plugins/echo"
	"github.com/hubhq/hub/server"
	"github.com/hubhq/hub/store"
)

// TestStoredBotToken checks that a bot without token: uses the token `hub
// token add` stored under its name, and that without one the error points
// at the bot's line and names the command, not a token.
func TestStoredBotToken(t *testing.T) {
	const token = "4242:stored-secret"
	fake := telegramtest.New(t)
	tg := fake.AddBot(token, "support_bot")
	cfg := newConfig(t, "bots:\n  - name: support\n    platform: telegram\n    api_url: "+fake.URL()+"\nroutes:\n  telegram:\n    - consumer: echo\n")

	_, err := server.New(cfg, testLogger(t))
	var ce *config.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "hub.yaml:4: bots[0].token: no token") ||
		!strings.Contains(err.Error(), "hub token add telegram support") {
		t.Fatalf("New without any token = %v, want a config error at bots[0].token", err)
	}

	db, err := store.Open(cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.TokenAdd(context.Background(), "support", "telegram", token); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	start(t, cfg)
	tg.PushMessage(7, "ada", "hello")
	sent := tg.WaitSent(t, 7, 2) // the greeting, then the echo
	if got := sent[len(sent)-1].Text; got != "You said: hello" {
		t.Fatalf("bot answered %q", got)
	}
}
