package telegram

import (
	"context"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/core"
)

// BenchmarkDispatch measures the adapter's receive path — an update mapped
// to its chat event, its scope found (or opened) and the event queued — for
// updates spread over 1000 chats, with a consumer that reads and drops them.
func BenchmarkDispatch(b *testing.B) {
	drain := core.AppFunc(func(ctx context.Context, _ *core.Scope, in core.Inbox, _ core.SendFunc) error {
		for {
			if _, err := in.Next(ctx); err != nil {
				return nil
			}
		}
	})
	a, err := New(Options{Runtime: &core.Runtime{App: drain}, IdleTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.scopes.Begin(ctx)
	br := &botRunner{cfg: BotConfig{Name: "bench"}, username: "bench_bot", limit: newLimiter(Limits{})}
	const chats = 1000
	updates := make([]*models.Update, chats)
	for i := range updates {
		id := int64(i + 1)
		updates[i] = &models.Update{ID: id, Message: &models.Message{
			ID: 1, Date: 1, Text: "hello there", Chat: models.Chat{ID: id, Type: models.ChatTypePrivate},
			From: &models.User{ID: id, FirstName: "User"},
		}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := a.dispatch(ctx, br, updates[i%chats]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cancel()
	a.shutdown()
}
