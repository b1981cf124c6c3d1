package telegram_test

import (
	"context"
	"sync"
	"testing"

	"github.com/hubhq/hub/adapters/internal/chattest"
	"github.com/hubhq/hub/adapters/telegram"
	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins/echo"
)

// checkpoints is an in-memory telegram.Checkpoints.
type checkpoints struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *checkpoints) Checkpoint(_ context.Context, key string) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok, nil
}

func (c *checkpoints) SetCheckpoint(_ context.Context, key, value string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = value
	return nil
}

func (c *checkpoints) get(key string) string {
	v, _, _ := c.Checkpoint(context.Background(), key)
	return v
}

func TestCheckpointSkipsUpdatesHandedOverBeforeARestart(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	tg.PushMessage(42, "ada", "one")
	two := tg.PushUpdate(wrap(telegramtest.NewMessage(42, "ada", "two")))
	// As if the hub had handed "one" to its scope and stopped before
	// Telegram heard of it.
	cp := &checkpoints{m: map[string]string{"telegram:echo:offset": itoa(two)}}
	startHub(t, echo.New(), nil, telegram.Options{Bots: []telegram.BotConfig{bot("echo", tokenA, fake)}, Checkpoints: cp})

	assertTexts(t, tg.WaitSent(t, 42, 2), "[Welcome Anonymous!]", "You said: two")
	chattest.Eventually(t, "the offset is saved", func() bool { return cp.get("telegram:echo:offset") == itoa(two+1) })
}

func TestRestartNeitherLosesNorRepeats(t *testing.T) {
	fake := telegramtest.New(t)
	tg := fake.AddBot(tokenA, "echo_bot")
	cp := &checkpoints{m: map[string]string{}}
	db := chattest.OpenStore(t)
	opts := telegram.Options{Bots: []telegram.BotConfig{bot("echo", tokenA, fake)}, Checkpoints: cp}

	first := startHub(t, core.Named("echo", echo.New()), db, opts)
	tg.PushMessage(42, "ada", "/name Ada")
	tg.WaitSent(t, 42, 2)
	first.Shutdown(t)

	tg.PushMessage(42, "ada", "while down")
	startHub(t, core.Named("echo", echo.New()), db, opts)
	got := tg.WaitSent(t, 42, 4)
	assertTexts(t, got, "[Welcome Anonymous!]", "[set your username to Ada]", "[Welcome Ada!]", "Ada: You said: while down")
}
