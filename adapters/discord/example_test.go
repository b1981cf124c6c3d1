package discord_test

import (
	"context"
	"log"
	"os"

	"github.com/hubhq/hub/adapters/discord"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins/echo"
)

// Two bots, one on Discord and one on a server of its own (a fake, a
// proxy), serving the echo plugin until ctx ends.
func Example() {
	a, err := discord.New(discord.Options{
		Bots: []discord.BotConfig{
			{Name: "support", Token: discord.Token(os.Getenv("SUPPORT_TOKEN"))},
			{Name: "staging", Token: discord.Token(os.Getenv("STAGING_TOKEN")), APIURL: "http://127.0.0.1:8081"},
		},
		Runtime: &core.Runtime{App: core.Named("echo", echo.New())},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := a.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
