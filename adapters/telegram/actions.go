package telegram

import (
	"context"
	"fmt"
	"strconv"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/adapters/outbox"
	"github.com/hubhq/hub/adapters/ratelimit"
	"github.com/hubhq/hub/adapters/relay"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// perform turns an action of a chat's application into a Bot API call, made
// within the bot's and the chat's limits. With an Outbox the call is written
// there first and made from there (see outbox.go). A chat.Send with a
// HubID is linked once made (see relay.Link): by the outbox, else here.
func (a *Adapter) perform(ctx context.Context, b *botRunner, t target, tr *tracker, ev core.Event) error {
	act, err := toAction(t, ev)
	call := outbox.Call{Scope: t.key(b.cfg.Name), Kind: ev.Type()}
	if s, ok := ev.(chat.Send); ok {
		call.HubID = s.HubID
	}
	var sent string
	switch {
	case err != nil:
	case a.outbox == nil:
		if sent, err = b.send(ctx, act); err == nil && call.HubID != "" {
			relay.Link(ctx, a.links, a.log.With("bot", b.cfg.Name), call.Scope, call.HubID, sent)
		}
	default:
		call.Dedupe = tr.NextKey()
		sent, err = a.performDurably(ctx, b, call, act)
	}
	if err != nil {
		return fmt.Errorf("telegram: %s in chat %d: %w", ev.Type(), t.chat, chat.Redact(err, b.cfg.Token))
	}
	if s, ok := ev.(chat.Send); ok && s.Sent != nil {
		*s.Sent = sent
	}
	return nil
}

// toAction reads an action event into the call it makes in chat t.
func toAction(t target, ev core.Event) (action, error) {
	act := action{Kind: ev.Type(), Chat: t.chat, Thread: t.thread, Group: t.group}
	switch ev := ev.(type) {
	case chat.Send:
		act.Text, act.ReplyTo = ev.Text, ev.ReplyTo
	case chat.Edit:
		act.MessageID, act.Text = ev.MessageID, ev.Text
	case chat.Delete:
		act.MessageID = ev.MessageID
	case chat.React:
		act.MessageID, act.Emoji = ev.MessageID, ev.Emoji
	case chat.Typing:
	case AnswerCallback:
		act = action{Kind: ev.Type(), CallbackID: ev.CallbackID, Text: ev.Text, ShowAlert: ev.ShowAlert}
	default:
		return act, fmt.Errorf("telegram: unsupported action %q", ev.Type())
	}
	return act, nil
}

// call says what the action touches, for the limiter.
func (act action) call() call {
	c := call{Message: act.Kind == "chat.send" || act.Kind == "chat.edit"}
	if act.Chat != 0 {
		c.Key = chatKey{chat: act.Chat, group: act.Group}
	}
	return c
}

// send makes the call within the limits and returns what Telegram answered
// that a consumer may need: the new message's id.
func (b *botRunner) send(ctx context.Context, act action) (string, error) {
	fn, err := b.request(act)
	if err != nil {
		return "", err
	}
	return ratelimit.DoResult(ctx, b.limit, act.call(), fn)
}

// request builds the Bot API call of an action.
func (b *botRunner) request(act action) (func(context.Context) (string, error), error) {
	api := b.api
	switch act.Kind {
	case "chat.send":
		p := &bot.SendMessageParams{ChatID: act.Chat, MessageThreadID: act.Thread, Text: act.Text}
		if act.ReplyTo != "" {
			id, err := messageID(act.ReplyTo)
			if err != nil {
				return nil, err
			}
			// A reply to a message deleted meanwhile is still sent.
			p.ReplyParameters = &models.ReplyParameters{MessageID: id, AllowSendingWithoutReply: true}
		}
		return func(ctx context.Context) (string, error) {
			m, err := api.SendMessage(ctx, p)
			if err != nil {
				return "", err
			}
			return strconv.Itoa(m.ID), nil
		}, nil
	case "chat.edit":
		id, err := messageID(act.MessageID)
		p := &bot.EditMessageTextParams{ChatID: act.Chat, MessageID: id, Text: act.Text}
		return ignoreResult(func(ctx context.Context) (any, error) { return api.EditMessageText(ctx, p) }), err
	case "chat.delete":
		id, err := messageID(act.MessageID)
		p := &bot.DeleteMessageParams{ChatID: act.Chat, MessageID: id}
		return ignoreResult(func(ctx context.Context) (any, error) { return api.DeleteMessage(ctx, p) }), err
	case "chat.react":
		id, err := messageID(act.MessageID)
		p := &bot.SetMessageReactionParams{ChatID: act.Chat, MessageID: id, Reaction: []models.ReactionType{}}
		if act.Emoji != "" {
			p.Reaction = []models.ReactionType{{Type: models.ReactionTypeTypeEmoji, ReactionTypeEmoji: &models.ReactionTypeEmoji{Emoji: act.Emoji}}}
		}
		return ignoreResult(func(ctx context.Context) (any, error) { return api.SetMessageReaction(ctx, p) }), err
	case "chat.typing":
		p := &bot.SendChatActionParams{ChatID: act.Chat, MessageThreadID: act.Thread, Action: models.ChatActionTyping}
		return ignoreResult(func(ctx context.Context) (any, error) { return api.SendChatAction(ctx, p) }), nil
	case AnswerCallback{}.Type():
		p := &bot.AnswerCallbackQueryParams{CallbackQueryID: act.CallbackID, Text: act.Text, ShowAlert: act.ShowAlert}
		return ignoreResult(func(ctx context.Context) (any, error) { return api.AnswerCallbackQuery(ctx, p) }), nil
	}
	return nil, fmt.Errorf("telegram: unsupported action %q", act.Kind)
}

// ignoreResult adapts a call whose answer no consumer needs.
func ignoreResult(fn func(context.Context) (any, error)) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		_, err := fn(ctx)
		return "", err
	}
}

func messageID(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("telegram: bad message id %q", s)
	}
	return id, nil
}
