package discord

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// Platform is the scope type and chat.Message.Platform of this adapter.
const Platform = "discord"

// MessageDelete is a message that was deleted ("discord.message_delete").
// Discord says only which one: its content is gone.
type MessageDelete struct {
	ID   string
	Chat chat.Chat
	Raw  *discordgo.MessageDelete
}

// Reaction is someone's reaction on a message.
type Reaction struct {
	MessageID string
	// Emoji is the emoji itself for a standard one, "name:id" for a custom
	// one (the form chat.React takes).
	Emoji string
	// Sender is who reacted; only ID is known for removals and in DMs.
	Sender chat.Sender
	Raw    *discordgo.MessageReaction
}

// ReactionAdd is a reaction added to a message ("discord.reaction_add").
type ReactionAdd struct{ Reaction }

// ReactionRemove is a reaction taken back ("discord.reaction_remove").
type ReactionRemove struct{ Reaction }

// Interaction is a slash command, a button press or another interaction
// ("discord.interaction"). Discord wants an answer within three seconds:
// send Respond (Interaction.Respond makes one).
type Interaction struct {
	ID    string
	Token string // the interaction's own token (not the bot's), valid 15 minutes
	// Command is the slash command's name for an application command, ""
	// otherwise; Options are its options by name, as text, and Args the
	// same as "name=value" pairs in name order.
	Command string
	Options map[string]string
	Args    string
	// CustomID is the custom_id of the pressed button or used select menu.
	CustomID string
	Sender   chat.Sender
	Chat     chat.Chat
	Raw      *discordgo.InteractionCreate
}

// Respond answers an interaction with a message ("discord.respond").
type Respond struct {
	InteractionID string
	Token         string
	Text          string
	// Ephemeral shows the answer to the user who interacted only.
	Ephemeral bool
}

// Respond makes the action answering i with text.
func (i Interaction) Respond(text string) Respond {
	return Respond{InteractionID: i.ID, Token: i.Token, Text: text}
}

// Type implements core.Event.
func (MessageDelete) Type() string  { return "discord.message_delete" }
func (ReactionAdd) Type() string    { return "discord.reaction_add" }
func (ReactionRemove) Type() string { return "discord.reaction_remove" }
func (Interaction) Type() string    { return "discord.interaction" }
func (Respond) Type() string        { return "discord.respond" }

// target is the conversation an event belongs to: a channel or DM, or a
// thread within a channel.
type target struct {
	channel string // where actions go: the channel, DM or thread itself
	parent  string // a thread's parent channel, "" otherwise
	guild   string // "" for a DM
	title   string
}

// key is "discord:<bot>:<channel>" or, for a thread,
// "discord:<bot>:<parent channel>:<thread>": Discord gives a thread its own
// channel id, and keying it under its parent keeps a channel's
// conversations together, like Telegram's forum topics.
func (t target) key(bot string) string {
	if t.parent != "" {
		return Platform + ":" + bot + ":" + t.parent + ":" + t.channel
	}
	return Platform + ":" + bot + ":" + t.channel
}

func (t target) chat() chat.Chat {
	c := chat.Chat{ID: t.channel, Title: t.title, Private: t.guild == ""}
	if t.parent != "" {
		c.ID, c.Thread = t.parent, t.channel
	}
	return c
}

// event turns a gateway event into the event for its scope; ok is false
// for events the hub leaves out (the bot's own messages and reactions,
// embed-only updates).
func (b *botRunner) event(ctx context.Context, raw any) (ev core.Event, t target, ok bool) {
	switch e := raw.(type) {
	case *discordgo.MessageCreate:
		if e.Message == nil || b.own(e.Author) {
			return nil, t, false
		}
		t = b.target(ctx, e.ChannelID, e.GuildID)
		return b.message(e.Message, t, e), t, true
	case *discordgo.MessageUpdate:
		// Discord also sends updates when it adds link previews; only a
		// change by the author has an edited_timestamp.
		if e.Message == nil || b.own(e.Author) || e.EditedTimestamp == nil {
			return nil, t, false
		}
		t = b.target(ctx, e.ChannelID, e.GuildID)
		return &chat.Edited{Message: *b.message(e.Message, t, e)}, t, true
	case *discordgo.MessageDelete:
		if e.Message == nil {
			return nil, t, false
		}
		t = b.target(ctx, e.ChannelID, e.GuildID)
		return MessageDelete{ID: e.ID, Chat: t.chat(), Raw: e}, t, true
	case *discordgo.MessageReactionAdd:
		if e.MessageReaction == nil || e.UserID == b.userID {
			return nil, t, false
		}
		r := reaction(e.MessageReaction)
		if e.Member != nil && e.Member.User != nil {
			r.Sender = sender(e.Member.User, e.Member)
		}
		t = b.target(ctx, e.ChannelID, e.GuildID)
		return ReactionAdd{r}, t, true
	case *discordgo.MessageReactionRemove:
		if e.MessageReaction == nil || e.UserID == b.userID {
			return nil, t, false
		}
		t = b.target(ctx, e.ChannelID, e.GuildID)
		return ReactionRemove{reaction(e.MessageReaction)}, t, true
	case *discordgo.InteractionCreate:
		if e.Interaction == nil || e.ChannelID == "" {
			return nil, t, false
		}
		t = b.target(ctx, e.ChannelID, e.GuildID)
		return interaction(e, t), t, true
	}
	return nil, t, false
}

func (b *botRunner) own(u *discordgo.User) bool { return u != nil && u.ID == b.userID }

// message renders a Discord message in the common chat form.
func (b *botRunner) message(m *discordgo.Message, t target, raw any) *chat.Message {
	out := &chat.Message{
		ID:          m.ID,
		Text:        m.Content,
		Chat:        t.chat(),
		Attachments: attachments(m.Attachments),
		Platform:    Platform,
		Bot:         b.cfg.Name,
		Raw:         raw,
	}
	if m.Author != nil {
		out.Sender = sender(m.Author, m.Member)
		if out.Chat.Private {
			out.Chat.Title = out.Sender.Name
		}
	}
	if r := m.ReferencedMessage; r != nil {
		out.ReplyTo = &chat.MessageRef{ID: r.ID, Text: r.Content}
		if r.Author != nil {
			out.ReplyTo.Sender = sender(r.Author, nil)
		}
	} else if ref := m.MessageReference; ref != nil && ref.MessageID != "" && ref.Type == discordgo.MessageReferenceTypeDefault {
		out.ReplyTo = &chat.MessageRef{ID: ref.MessageID} // the replied message is gone
	}
	out.Command, out.Args, _ = chat.ParseCommand(out.Text, b.username)
	return out
}

func sender(u *discordgo.User, m *discordgo.Member) chat.Sender {
	s := chat.Sender{ID: u.ID, Name: u.GlobalName, Username: u.Username, IsBot: u.Bot}
	if m != nil && m.Nick != "" {
		s.Name = m.Nick
	}
	if s.Name == "" {
		s.Name = u.Username
	}
	return s
}

func reaction(r *discordgo.MessageReaction) Reaction {
	return Reaction{MessageID: r.MessageID, Emoji: r.Emoji.APIName(), Sender: chat.Sender{ID: r.UserID}, Raw: r}
}

func interaction(e *discordgo.InteractionCreate, t target) Interaction {
	ev := Interaction{ID: e.ID, Token: e.Token, Chat: t.chat(), Raw: e}
	switch {
	case e.Member != nil && e.Member.User != nil:
		ev.Sender = sender(e.Member.User, e.Member)
	case e.User != nil:
		ev.Sender = sender(e.User, nil)
	}
	switch e.Type {
	case discordgo.InteractionApplicationCommand:
		d := e.ApplicationCommandData()
		ev.Command = d.Name
		ev.Options = make(map[string]string, len(d.Options))
		names := make([]string, 0, len(d.Options))
		for _, o := range d.Options {
			if o.Value != nil {
				ev.Options[o.Name] = strings.TrimSpace(fmt.Sprint(o.Value))
				names = append(names, o.Name)
			}
		}
		sort.Strings(names)
		pairs := make([]string, len(names))
		for i, n := range names {
			pairs[i] = n + "=" + ev.Options[n]
		}
		ev.Args = strings.Join(pairs, " ")
	case discordgo.InteractionMessageComponent:
		ev.CustomID = e.MessageComponentData().CustomID
	}
	return ev
}

// attachments lists a message's files, each served by URL.
func attachments(as []*discordgo.MessageAttachment) []chat.Attachment {
	var out []chat.Attachment
	for _, a := range as {
		kind := "document"
		switch {
		case strings.HasPrefix(a.ContentType, "image/"):
			kind = "photo"
		case strings.HasPrefix(a.ContentType, "video/"):
			kind = "video"
		case strings.HasPrefix(a.ContentType, "audio/"):
			kind = "audio"
		}
		out = append(out, chat.Attachment{Kind: kind, Name: a.Filename, MIME: a.ContentType, Size: int64(a.Size), URL: a.URL})
	}
	return out
}

// channelInfo is what the hub remembers of a guild channel: a thread's
// parent, and a title for chat.Chat.
type channelInfo struct {
	parent, title string
}

// lookupTimeout bounds the GET /channels/{id} that tells a thread from a
// channel.
const lookupTimeout = 10 * time.Second

// target finds the conversation of an event in a channel. A guild channel
// is looked up once (in discordgo's state, else through the API) to tell
// a thread, keyed under its parent, from a channel; a lookup failure makes
// it a channel of its own, and is tried again on its next event.
func (b *botRunner) target(ctx context.Context, channelID, guildID string) target {
	t := target{channel: channelID, guild: guildID}
	if guildID == "" {
		return t // DMs have no threads
	}
	b.mu.Lock()
	info, ok := b.channels[channelID]
	b.mu.Unlock()
	if !ok {
		c, err := b.s.State.Channel(channelID)
		if err != nil {
			lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			c, err = b.s.Channel(channelID, discordgo.WithContext(lctx))
			cancel()
		}
		if err != nil {
			b.log.Warn("could not look up channel; taking it for a channel, not a thread", "channel", channelID, "err", chat.Redact(err, b.cfg.Token))
			return t
		}
		info = channelInfo{title: c.Name}
		if c.IsThread() {
			info.parent = c.ParentID
		}
		b.mu.Lock()
		b.channels[channelID] = info
		b.mu.Unlock()
	}
	t.parent, t.title = info.parent, info.title
	return t
}
