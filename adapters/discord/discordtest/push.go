package discordtest

import (
	"maps"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
)

// interaction is a pushed interaction awaiting its callback.
type interaction struct {
	token    string
	answered bool
}

// PushMessage posts a message from the user called author in a channel of
// guild ("" for a DM), dispatched to every bot as MESSAGE_CREATE, and
// returns it with its id.
func (s *Server) PushMessage(channelID, guildID, author, content string) *discordgo.Message {
	return s.PushReply(channelID, guildID, author, content, "")
}

// PushReply is PushMessage for a message answering replyTo.
func (s *Server) PushReply(channelID, guildID, author, content, replyTo string) *discordgo.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channelLocked(channelID, guildID)
	m := &Message{ID: s.newIDLocked(), ChannelID: channelID, GuildID: c.guild, Author: User(author), Content: content, ReplyTo: replyTo, Time: time.Now()}
	s.messages[m.ID] = m
	wire := s.wireLocked(m)
	s.broadcastLocked(event{typ: "MESSAGE_CREATE", build: messageFor(wire)})
	return wire
}

// PushEdit changes a message's content, dispatched as MESSAGE_UPDATE.
func (s *Server) PushEdit(channelID, messageID, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.messages[messageID]
	if m == nil || m.ChannelID != channelID {
		panic("discordtest: PushEdit of unknown message " + messageID)
	}
	m.Content, m.Edited = content, true
	s.broadcastLocked(event{typ: "MESSAGE_UPDATE", build: messageFor(s.wireLocked(m))})
}

// PushDelete deletes a message, dispatched as MESSAGE_DELETE.
func (s *Server) PushDelete(channelID, messageID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	guild := s.channelLocked(channelID, "").guild
	if m := s.messages[messageID]; m != nil {
		m.Deleted = true
	}
	data := map[string]string{"id": messageID, "channel_id": channelID, "guild_id": guild}
	s.broadcastLocked(event{typ: "MESSAGE_DELETE", build: func(b *account) (any, bool) {
		return data, has(b.intents, messageIntent(guild))
	}})
}

// PushReaction adds the user's reaction to a message
// (MESSAGE_REACTION_ADD).
func (s *Server) PushReaction(channelID, messageID, user, emoji string) {
	s.pushReaction("MESSAGE_REACTION_ADD", channelID, messageID, user, emoji)
}

// PushReactionRemove removes the user's reaction from a message
// (MESSAGE_REACTION_REMOVE).
func (s *Server) PushReactionRemove(channelID, messageID, user, emoji string) {
	s.pushReaction("MESSAGE_REACTION_REMOVE", channelID, messageID, user, emoji)
}

func (s *Server) pushReaction(typ, channelID, messageID, user, emoji string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	guild := s.channelLocked(channelID, "").guild
	data := &discordgo.MessageReaction{UserID: User(user).ID, MessageID: messageID, ChannelID: channelID, GuildID: guild, Emoji: discordgo.Emoji{Name: emoji}}
	intent := discordgo.IntentsGuildMessageReactions
	if guild == "" {
		intent = discordgo.IntentsDirectMessageReactions
	}
	s.broadcastLocked(event{typ: typ, build: func(b *account) (any, bool) { return data, has(b.intents, intent) }})
}

// PushInteraction invokes a slash command (an APPLICATION_COMMAND
// interaction, INTERACTION_CREATE) from user in a channel of guild ("" for a
// DM), with string options. It returns the interaction's id, which
// WaitInteractionResponse takes.
func (s *Server) PushInteraction(channelID, guildID, user, command string, options map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channelLocked(channelID, guildID)
	id, token := s.newIDLocked(), "itoken-"+s.newIDLocked()
	s.interactions[id] = &interaction{token: token}
	opts := make([]map[string]any, 0, len(options))
	for name, value := range options {
		opts = append(opts, map[string]any{"name": name, "type": discordgo.ApplicationCommandOptionString, "value": value})
	}
	u := User(user)
	data := map[string]any{
		"id": id, "token": token, "type": discordgo.InteractionApplicationCommand, "version": 1,
		"channel_id": channelID,
		"data":       map[string]any{"id": s.newIDLocked(), "name": command, "type": discordgo.ChatApplicationCommand, "options": opts},
	}
	if c.guild != "" {
		data["guild_id"] = c.guild
		data["member"] = map[string]any{"user": u}
	} else {
		data["user"] = u
	}
	s.broadcastLocked(event{typ: "INTERACTION_CREATE", build: func(b *account) (any, bool) {
		data := maps.Clone(data)
		data["application_id"] = b.User.ID
		return data, true
	}})
	return id
}

// PushDispatch sends any dispatch to every bot, as is.
func (s *Server) PushDispatch(typ string, data any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broadcastLocked(event{typ: typ, build: func(*account) (any, bool) { return data, true }})
}

// messageFor renders a message for a bot with its intents: none without
// the guild or DM messages intent, and without content, as Discord does,
// for a guild message that does not mention the bot when it lacks
// MESSAGE_CONTENT.
func messageFor(m *discordgo.Message) func(*account) (any, bool) {
	return func(b *account) (any, bool) {
		if !has(b.intents, messageIntent(m.GuildID)) {
			return nil, false
		}
		if m.GuildID != "" && !has(b.intents, discordgo.IntentsMessageContent) && m.Author.ID != b.User.ID && !strings.Contains(m.Content, "<@"+b.User.ID+">") {
			c := *m
			c.Content = ""
			return &c, true
		}
		return m, true
	}
}

func messageIntent(guild string) discordgo.Intent {
	if guild == "" {
		return discordgo.IntentsDirectMessages
	}
	return discordgo.IntentsGuildMessages
}
