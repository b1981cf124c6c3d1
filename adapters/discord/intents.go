package discord

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// intentNames are the gateway intents by the names Discord's documentation
// gives them, lower-cased.
var intentNames = map[string]discordgo.Intent{
	"guilds":                    discordgo.IntentsGuilds,
	"guild_members":             discordgo.IntentsGuildMembers,
	"guild_moderation":          discordgo.IntentGuildModeration,
	"guild_emojis_and_stickers": discordgo.IntentsGuildEmojis,
	"guild_integrations":        discordgo.IntentsGuildIntegrations,
	"guild_webhooks":            discordgo.IntentsGuildWebhooks,
	"guild_invites":             discordgo.IntentsGuildInvites,
	"guild_voice_states":        discordgo.IntentsGuildVoiceStates,
	"guild_presences":           discordgo.IntentsGuildPresences,
	"guild_messages":            discordgo.IntentsGuildMessages,
	"guild_message_reactions":   discordgo.IntentsGuildMessageReactions,
	"guild_message_typing":      discordgo.IntentsGuildMessageTyping,
	"direct_messages":           discordgo.IntentsDirectMessages,
	"direct_message_reactions":  discordgo.IntentsDirectMessageReactions,
	"direct_message_typing":     discordgo.IntentsDirectMessageTyping,
	"message_content":           discordgo.IntentsMessageContent,
	"guild_scheduled_events":    discordgo.IntentsGuildScheduledEvents,
}

// ParseIntents reads gateway intents by name ("guild_messages",
// "message_content", …; case does not matter), for config files. No names
// is 0, which BotConfig takes for DefaultIntents.
func ParseIntents(names []string) (discordgo.Intent, error) {
	var set discordgo.Intent
	for _, n := range names {
		i, ok := intentNames[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			known := make([]string, 0, len(intentNames))
			for k := range intentNames {
				known = append(known, k)
			}
			sort.Strings(known)
			return 0, fmt.Errorf("discord: unknown intent %q (want one of %s)", n, strings.Join(known, ", "))
		}
		set |= i
	}
	return set, nil
}
