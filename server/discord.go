package server

import (
	"fmt"

	"github.com/hubhq/hub/adapters/discord"
)

// startDiscord makes the Discord adapter for the discord bots that have a
// route; each bot holds its own gateway connection while Run runs.
func (s *Server) startDiscord(app botRouter) error {
	var bots []discord.BotConfig
	for i, b := range s.cfg.Bots {
		if b.Platform != discord.Platform {
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
		bots = append(bots, discord.BotConfig{
			Name:   b.Name,
			Token:  discord.Token(token),
			APIURL: b.APIURL,
		})
	}
	if len(bots) == 0 {
		return nil
	}
	a, err := discord.New(discord.Options{
		Bots:    bots,
		Runtime: s.runtime(discord.Platform, app),
		Logger:  s.log, // the adapter adds adapter=discord itself
	})
	if err != nil {
		return fmt.Errorf("server: discord: %w", err)
	}
	s.adapters = append(s.adapters, adapter{discord.Platform, a.Run})
	return nil
}
