package exec_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/telegram"
	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/hubtest"
	"github.com/hubhq/hub/plugins/exec"
)

// The acceptance test: the Python and Node plugins answer through the real
// Telegram adapter and client library, against the fake Bot API.
func TestEchoExamplesThroughTelegram(t *testing.T) {
	const token = "123456:AAH-exec-test-token"
	for _, bot := range echoBots {
		t.Run(bot.name, func(t *testing.T) {
			t.Parallel()
			p, l := start(t, exec.Config{Name: "echo-" + bot.name, Command: []string{bot.bin, bot.script}})
			fake := telegramtest.New(t)
			tg := fake.AddBot(token, "echo_bot")
			log := slog.New(slog.NewTextHandler(l, nil))
			a, err := telegram.New(telegram.Options{
				Bots:        []telegram.BotConfig{{Name: "echo", Token: token, APIURL: fake.URL()}},
				Runtime:     &core.Runtime{App: core.Named("exec", p), Store: hubtest.NewHub(t).Store, Logger: log},
				PollTimeout: time.Second,
				Limits:      telegram.Limits{Chat: 100, Group: 100, Burst: 10},
				Logger:      log,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			t.Cleanup(func() { // before the plugin closes: the adapter says goodbye to its scopes
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			})

			first := tg.PushMessage(42, "ada", "/start@echo_bot")
			tg.PushMessage(42, "ada", "/name Ada")
			hello := tg.PushMessage(42, "ada", "hello")
			got := tg.WaitSent(t, 42, 4)
			var texts []string
			for _, m := range got {
				texts = append(texts, m.Text)
			}
			want := []string{"[Welcome Anonymous!]", "I repeat what you say. /name NAME tells me who you are.",
				"[set your username to Ada]", "Ada: You said: hello"}
			if strings.Join(texts, "|") != strings.Join(want, "|") {
				t.Fatalf("sent %q, want %q", texts, want)
			}
			if got[1].ReplyTo != first.ID || got[3].ReplyTo != hello.ID {
				t.Fatalf("replies point to %d and %d, want %d and %d", got[1].ReplyTo, got[3].ReplyTo, first.ID, hello.ID)
			}
			if l.contains(token[7:]) {
				t.Fatal("the bot token reached the logs")
			}
		})
	}
}
