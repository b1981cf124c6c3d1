package discord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// perform turns an action of a conversation's application into a REST
// call, made within the bot's and the channel's limits.
func (a *Adapter) perform(ctx context.Context, b *botRunner, t target, r *reactions, ev core.Event) error {
	if send, ok := ev.(chat.Send); ok && utf8.RuneCountInString(send.Text) > maxMessage {
		return a.sendLong(ctx, b, t, r, send)
	}
	var err error
	if react, ok := ev.(chat.React); ok {
		err = b.react(ctx, t, r, react)
	} else {
		var c call
		var fn func(context.Context) error
		if c, fn, err = b.request(t, ev); err == nil {
			err = b.limit.Do(ctx, c, fn)
		}
	}
	if err != nil {
		return fmt.Errorf("discord: %s in channel %s: %w", ev.Type(), t.channel, chat.Redact(err, b.cfg.Token))
	}
	return nil
}

// maxMessage is the longest message Discord takes, in characters.
const maxMessage = 2000

// sendLong sends a text too long for one message as several, split at line
// or word ends where it can: text from other platforms (Telegram allows
// 4096 characters) must not be refused. The first part is the reply, and
// its id is the one reported.
func (a *Adapter) sendLong(ctx context.Context, b *botRunner, t target, r *reactions, send chat.Send) error {
	for i, part := range split(send.Text, maxMessage) {
		p := chat.Send{Text: part}
		if i == 0 {
			p.ReplyTo, p.Sent = send.ReplyTo, send.Sent
		}
		if err := a.perform(ctx, b, t, r, p); err != nil {
			return err
		}
	}
	return nil
}

// split cuts text into pieces of at most n characters, after a newline or
// else a space in the second half of a piece, else anywhere.
func split(text string, n int) []string {
	var out []string
	for utf8.RuneCountInString(text) > n {
		cut := len(string([]rune(text)[:n])) // byte offset of the n-th character
		if i := strings.LastIndexByte(text[:cut], '\n'); i > cut/2 {
			cut = i + 1
		} else if i := strings.LastIndexByte(text[:cut], ' '); i > cut/2 {
			cut = i + 1
		}
		out = append(out, text[:cut])
		text = text[cut:]
	}
	return append(out, text)
}

// request builds the call for an action.
func (b *botRunner) request(t target, ev core.Event) (call, func(context.Context) error, error) {
	s := b.s
	c := call{Key: t.channel}
	switch ev := ev.(type) {
	case chat.Send:
		m := &discordgo.MessageSend{Content: ev.Text}
		if ev.ReplyTo != "" {
			// A reply to a message deleted meanwhile is still sent.
			m.Reference = &discordgo.MessageReference{MessageID: ev.ReplyTo, ChannelID: t.channel, GuildID: t.guild, FailIfNotExists: new(false)}
		}
		c.Message = true
		return c, func(ctx context.Context) error {
			sent, err := s.ChannelMessageSendComplex(t.channel, m, discordgo.WithContext(ctx))
			if err == nil && ev.Sent != nil {
				*ev.Sent = sent.ID
			}
			return err
		}, nil
	case chat.Edit:
		c.Message = true
		return c, func(ctx context.Context) error {
			_, err := s.ChannelMessageEdit(t.channel, ev.MessageID, ev.Text, discordgo.WithContext(ctx))
			return err
		}, nonEmpty(ev.MessageID)
	case chat.Delete:
		return c, func(ctx context.Context) error {
			return s.ChannelMessageDelete(t.channel, ev.MessageID, discordgo.WithContext(ctx))
		}, nonEmpty(ev.MessageID)
	case chat.Typing:
		return c, func(ctx context.Context) error { return s.ChannelTyping(t.channel, discordgo.WithContext(ctx)) }, nil
	case Respond:
		// Interaction callbacks are not counted against the bot's limits by
		// Discord, and must go within three seconds: no channel pacing.
		in := &discordgo.Interaction{ID: ev.InteractionID, Token: ev.Token}
		resp := &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource, Data: &discordgo.InteractionResponseData{Content: ev.Text}}
		if ev.Ephemeral {
			resp.Data.Flags = discordgo.MessageFlagsEphemeral
		}
		return call{}, func(ctx context.Context) error { return s.InteractionRespond(in, resp, discordgo.WithContext(ctx)) }, nil
	}
	return c, nil, fmt.Errorf("discord: unsupported action %q", ev.Type())
}

// reactions remembers the reaction the bot set on each message of one
// conversation, because chat.React sets the bot's one reaction (replacing
// any earlier one, "" removing it) while Discord adds reactions side by
// side and removes them by emoji. It lives as long as the scope.
type reactions struct {
	mu  sync.Mutex
	set map[string]string // message id → emoji
}

func (r *reactions) get(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set[id]
}

func (r *reactions) put(id, emoji string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.set == nil {
		r.set = make(map[string]string)
	}
	if emoji == "" {
		delete(r.set, id)
	} else {
		r.set[id] = emoji
	}
}

// react sets the bot's reaction on a message: it removes the one it set
// before, if any, then adds the new one.
func (b *botRunner) react(ctx context.Context, t target, r *reactions, ev chat.React) error {
	if err := nonEmpty(ev.MessageID); err != nil {
		return err
	}
	c := call{Key: t.channel}
	if old := r.get(ev.MessageID); old != "" && old != ev.Emoji {
		err := b.limit.Do(ctx, c, func(ctx context.Context) error {
			return b.s.MessageReactionRemove(t.channel, ev.MessageID, old, "@me", discordgo.WithContext(ctx))
		})
		if err != nil {
			return err
		}
		r.put(ev.MessageID, "")
	}
	if ev.Emoji == "" || r.get(ev.MessageID) == ev.Emoji {
		return nil
	}
	err := b.limit.Do(ctx, c, func(ctx context.Context) error {
		return b.s.MessageReactionAdd(t.channel, ev.MessageID, ev.Emoji, discordgo.WithContext(ctx))
	})
	if err == nil {
		r.put(ev.MessageID, ev.Emoji)
	}
	return err
}

var errNoMessageID = errors.New("no message id")

func nonEmpty(id string) error {
	if id == "" {
		return errNoMessageID
	}
	return nil
}
