package server

import (
	"fmt"

	"github.com/hubhq/hub/adapters/discord"
	"github.com/hubhq/hub/config"
)

// discordUnit makes the Discord adapter of one bot, which holds its own
// gateway connection while it runs.
func (s *Server) discordUnit(b config.Bot, token string) (*unit, error) {
	bot := discord.BotConfig{
		Name:   b.Name,
		Token:  discord.Token(token),
		APIURL: b.APIURL,
	}
	a, err := discord.New(discord.Options{
		Bots:    []discord.BotConfig{bot},
		Runtime: s.runtimes.discord,
		Outbox:  s.db,
		Logger:  s.log, // the adapter adds adapter=discord itself
	})
	if err != nil {
		return nil, fmt.Errorf("server: discord: %w", err)
	}
	return &unit{name: "discord adapter of bot " + b.Name, spec: bot, run: a.Run}, nil
}
