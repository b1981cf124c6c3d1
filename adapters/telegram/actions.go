package telegram

import (
	"context"
	"fmt"
	"strconv"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// perform turns an action of a chat's application into a Bot API call, made
// within the bot's and the chat's limits.
func (a *Adapter) perform(ctx context.Context, b *botRunner, t target, ev core.Event) error {
	c, fn, err := b.request(t, ev)
	if err == nil {
		err = b.limit.do(ctx, c, fn)
	}
	if err != nil {
		return fmt.Errorf("telegram: %s in chat %d: %w", ev.Type(), t.chat, redact(err, b.cfg.Token))
	}
	return nil
}

// request builds the call for an action.
func (b *botRunner) request(t target, ev core.Event) (call, func(context.Context) error, error) {
	c := call{chat: t.chat, group: t.group}
	api := b.api
	switch ev := ev.(type) {
	case chat.Send:
		p := &bot.SendMessageParams{ChatID: t.chat, MessageThreadID: t.thread, Text: ev.Text}
		if ev.ReplyTo != "" {
			id, err := messageID(ev.ReplyTo)
			if err != nil {
				return c, nil, err
			}
			// A reply to a message deleted meanwhile is still sent.
			p.ReplyParameters = &models.ReplyParameters{MessageID: id, AllowSendingWithoutReply: true}
		}
		c.message = true
		return c, func(ctx context.Context) error {
			m, err := api.SendMessage(ctx, p)
			if err == nil && ev.Sent != nil {
				*ev.Sent = strconv.Itoa(m.ID)
			}
			return err
		}, nil
	case chat.Edit:
		id, err := messageID(ev.MessageID)
		p := &bot.EditMessageTextParams{ChatID: t.chat, MessageID: id, Text: ev.Text}
		c.message = true
		return c, func(ctx context.Context) error { _, err := api.EditMessageText(ctx, p); return err }, err
	case chat.Delete:
		id, err := messageID(ev.MessageID)
		p := &bot.DeleteMessageParams{ChatID: t.chat, MessageID: id}
		return c, func(ctx context.Context) error { _, err := api.DeleteMessage(ctx, p); return err }, err
	case chat.React:
		id, err := messageID(ev.MessageID)
		p := &bot.SetMessageReactionParams{ChatID: t.chat, MessageID: id, Reaction: []models.ReactionType{}}
		if ev.Emoji != "" {
			p.Reaction = []models.ReactionType{{Type: models.ReactionTypeTypeEmoji, ReactionTypeEmoji: &models.ReactionTypeEmoji{Emoji: ev.Emoji}}}
		}
		return c, func(ctx context.Context) error { _, err := api.SetMessageReaction(ctx, p); return err }, err
	case chat.Typing:
		p := &bot.SendChatActionParams{ChatID: t.chat, MessageThreadID: t.thread, Action: models.ChatActionTyping}
		return c, func(ctx context.Context) error { _, err := api.SendChatAction(ctx, p); return err }, nil
	case AnswerCallback:
		p := &bot.AnswerCallbackQueryParams{CallbackQueryID: ev.CallbackID, Text: ev.Text, ShowAlert: ev.ShowAlert}
		return call{}, func(ctx context.Context) error { _, err := api.AnswerCallbackQuery(ctx, p); return err }, nil
	}
	return c, nil, fmt.Errorf("telegram: unsupported action %q", ev.Type())
}

func messageID(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("telegram: bad message id %q", s)
	}
	return id, nil
}
