package discord

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/hubhq/hub/adapters/outbox"
	"github.com/hubhq/hub/adapters/ratelimit"
	"github.com/hubhq/hub/adapters/relay"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// action is one REST call as it is made and, with an Outbox, stored:
// everything needed to make it again after a restart. A consumer's action
// is one or more of them (a long text is several messages, a new reaction
// may first remove the old one).
type action struct {
	Kind      string `json:"kind"`
	Channel   string `json:"channel,omitempty"`
	Guild     string `json:"guild,omitempty"`
	Text      string `json:"text,omitempty"`
	ReplyTo   string `json:"reply_to,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	Emoji     string `json:"emoji,omitempty"`
	// Nonce is sent with a new message, with enforce_nonce: Discord then
	// creates one message per nonce, so a retry after a failure in transit
	// does not post twice. It is stored with the call, so retries made
	// after a restart carry it too.
	Nonce string `json:"nonce,omitempty"`
	// Interaction and Token answer an interaction (Respond).
	Interaction string `json:"interaction,omitempty"`
	Token       string `json:"token,omitempty"`
	Ephemeral   bool   `json:"ephemeral,omitempty"`
}

// The calls a chat.React makes, besides the chat.* kinds.
const (
	addReaction    = "reaction.add"
	removeReaction = "reaction.remove"
)

// perform turns an action of a conversation's application into REST calls,
// made within the bot's and the channel's limits (through the outbox, with
// an Outbox).
func (a *Adapter) perform(ctx context.Context, b *botRunner, t target, r *reactions, ev core.Event) error {
	return a.performKeyed(ctx, b, t, r, "", ev)
}

// performKeyed is perform for an action keyed by the event being handled
// (see outbox.Tracker), so that the event handled again makes none of its
// calls twice.
func (a *Adapter) performKeyed(ctx context.Context, b *botRunner, t target, r *reactions, key string, ev core.Event) error {
	var err error
	switch ev := ev.(type) {
	case chat.Send:
		err = a.sendText(ctx, b, t, key, ev)
	case chat.React:
		err = a.react(ctx, b, t, r, key, ev)
	default:
		var act action
		if act, err = toAction(t, ev); err == nil {
			_, err = a.call(ctx, b, t, outbox.Call{Dedupe: key}, act)
		}
	}
	if err != nil {
		return fmt.Errorf("discord: %s in channel %s: %w", ev.Type(), t.channel, chat.Redact(err, b.cfg.Token))
	}
	return nil
}

// call makes one REST call: through the bot's outbox, written there first
// (dedupe keyed), if it has one; else at once. c has the call's Dedupe and
// HubID, if any: a new message with a HubID is linked once made (see
// relay.Link), by the outbox or here.
func (a *Adapter) call(ctx context.Context, b *botRunner, t target, c outbox.Call, act action) (string, error) {
	c.Scope, c.Kind = t.key(b.cfg.Name), act.Kind
	if b.out != nil {
		return b.out.Do(ctx, c, act)
	}
	result, err := b.send(ctx, act)
	if err == nil && c.HubID != "" {
		relay.Link(ctx, a.links, a.log.With("bot", b.cfg.Name), c.Scope, c.HubID, result)
	}
	return result, err
}

// subKey keys one of the calls of a keyed action.
func subKey(key, part string) string {
	if key == "" {
		return ""
	}
	return key + "/" + part
}

// maxMessage is the longest message Discord takes, in characters.
const maxMessage = 2000

// sendText sends a text, as several messages if it is too long for one,
// split at line or word ends where it can: text from other platforms
// (Telegram allows 4096 characters) must not be refused. The first part is
// the reply, and its id is the one reported.
func (a *Adapter) sendText(ctx context.Context, b *botRunner, t target, key string, send chat.Send) error {
	for i, part := range split(send.Text, maxMessage) {
		act := action{Kind: send.Type(), Channel: t.channel, Guild: t.guild, Text: part, Nonce: newNonce()}
		if i == 0 {
			act.ReplyTo = send.ReplyTo
		}
		c := outbox.Call{Dedupe: subKey(key, strconv.Itoa(i))}
		if i == 0 { // the first part stands for the whole
			c.HubID = send.HubID
		}
		id, err := a.call(ctx, b, t, c, act)
		if err != nil {
			return err
		}
		if i == 0 && send.Sent != nil {
			*send.Sent = id
		}
	}
	return nil
}

// newNonce is a new message's nonce: random, so that only retries of the
// same call share it. Discord takes up to 25 characters.
func newNonce() string { return strconv.FormatUint(rand.Uint64(), 36) }

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

// react sets the bot's reaction on a message: it removes the one it set
// before, if any, then adds the new one.
func (a *Adapter) react(ctx context.Context, b *botRunner, t target, r *reactions, key string, ev chat.React) error {
	if err := nonEmpty(ev.MessageID); err != nil {
		return err
	}
	on := action{Channel: t.channel, Guild: t.guild, MessageID: ev.MessageID}
	if old := r.get(ev.MessageID); old != "" && old != ev.Emoji {
		on.Kind, on.Emoji = removeReaction, old
		if _, err := a.call(ctx, b, t, outbox.Call{Dedupe: subKey(key, "-")}, on); err != nil {
			return err
		}
		r.put(ev.MessageID, "")
	}
	if ev.Emoji == "" || r.get(ev.MessageID) == ev.Emoji {
		return nil
	}
	on.Kind, on.Emoji = addReaction, ev.Emoji
	if _, err := a.call(ctx, b, t, outbox.Call{Dedupe: subKey(key, "+")}, on); err != nil {
		return err
	}
	r.put(ev.MessageID, ev.Emoji)
	return nil
}

// toAction reads an action event that makes one call into it.
func toAction(t target, ev core.Event) (action, error) {
	act := action{Kind: ev.Type(), Channel: t.channel, Guild: t.guild}
	switch ev := ev.(type) {
	case chat.Edit:
		act.MessageID, act.Text = ev.MessageID, ev.Text
		return act, nonEmpty(ev.MessageID)
	case chat.Delete:
		act.MessageID = ev.MessageID
		return act, nonEmpty(ev.MessageID)
	case chat.Typing:
		return act, nil
	case Respond:
		return action{Kind: ev.Type(), Interaction: ev.InteractionID, Token: ev.Token, Text: ev.Text, Ephemeral: ev.Ephemeral}, nil
	}
	return act, fmt.Errorf("discord: unsupported action %q", ev.Type())
}

// call says what the action touches, for the limiter. Interaction
// callbacks are not counted against the bot's limits by Discord, and must
// go within three seconds: no channel pacing.
func (act action) call() call {
	if act.Kind == (Respond{}).Type() {
		return call{}
	}
	return call{Key: act.Channel, Message: act.Kind == "chat.send" || act.Kind == "chat.edit"}
}

// queue is the outbox queue the action waits in: its channel's, or for an
// interaction's answer, due within three seconds, its own.
func (act action) queue() string {
	if act.Kind == (Respond{}).Type() {
		return "interaction:" + act.Interaction
	}
	return act.Channel
}

// send makes the call within the limits and returns what Discord answered
// that a consumer may need: the new message's id.
func (b *botRunner) send(ctx context.Context, act action) (string, error) {
	fn, err := b.request(act)
	if err != nil {
		return "", err
	}
	return ratelimit.DoResult(ctx, b.limit, act.call(), fn)
}

// messageCreate is a new message with a nonce, which discordgo's
// MessageSend lacks.
type messageCreate struct {
	*discordgo.MessageSend
	Nonce        string `json:"nonce,omitempty"`
	EnforceNonce bool   `json:"enforce_nonce,omitempty"`
}

// request builds the REST call of an action.
func (b *botRunner) request(act action) (func(context.Context) (string, error), error) {
	s := b.s
	ch, id := act.Channel, act.MessageID
	switch act.Kind {
	case "chat.send":
		m := messageCreate{MessageSend: &discordgo.MessageSend{Content: act.Text}, Nonce: act.Nonce, EnforceNonce: act.Nonce != ""}
		if act.ReplyTo != "" {
			// A reply to a message deleted meanwhile is still sent.
			m.Reference = &discordgo.MessageReference{MessageID: act.ReplyTo, ChannelID: ch, GuildID: act.Guild, FailIfNotExists: new(false)}
		}
		endpoint := discordgo.EndpointChannelMessages(ch)
		return func(ctx context.Context) (string, error) {
			body, err := s.RequestWithBucketID("POST", endpoint, m, endpoint, discordgo.WithContext(ctx))
			if err != nil {
				return "", err
			}
			var sent discordgo.Message
			if err := discordgo.Unmarshal(body, &sent); err != nil {
				return "", fmt.Errorf("%w: %v", discordgo.ErrJSONUnmarshal, err)
			}
			return sent.ID, nil
		}, nil
	case "chat.edit":
		return noResult(func(ctx context.Context) error {
			_, err := s.ChannelMessageEdit(ch, id, act.Text, discordgo.WithContext(ctx))
			return err
		}), nonEmpty(id)
	case "chat.delete":
		return noResult(func(ctx context.Context) error {
			return s.ChannelMessageDelete(ch, id, discordgo.WithContext(ctx))
		}), nonEmpty(id)
	case "chat.typing":
		return noResult(func(ctx context.Context) error { return s.ChannelTyping(ch, discordgo.WithContext(ctx)) }), nil
	case addReaction:
		return noResult(func(ctx context.Context) error {
			return s.MessageReactionAdd(ch, id, act.Emoji, discordgo.WithContext(ctx))
		}), nonEmpty(id)
	case removeReaction:
		return noResult(func(ctx context.Context) error {
			return s.MessageReactionRemove(ch, id, act.Emoji, "@me", discordgo.WithContext(ctx))
		}), nonEmpty(id)
	case Respond{}.Type():
		in := &discordgo.Interaction{ID: act.Interaction, Token: act.Token}
		resp := &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource, Data: &discordgo.InteractionResponseData{Content: act.Text}}
		if act.Ephemeral {
			resp.Data.Flags = discordgo.MessageFlagsEphemeral
		}
		return noResult(func(ctx context.Context) error { return s.InteractionRespond(in, resp, discordgo.WithContext(ctx)) }), nil
	}
	return nil, fmt.Errorf("discord: unsupported action %q", act.Kind)
}

// noResult adapts a call whose answer no consumer needs.
func noResult(fn func(context.Context) error) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) { return "", fn(ctx) }
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

var errNoMessageID = errors.New("no message id")

func nonEmpty(id string) error {
	if id == "" {
		return errNoMessageID
	}
	return nil
}
