package telegram

import (
	"strconv"
	"strings"

	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// Platform is the scope type and chat.Message.Platform of this adapter.
const Platform = "telegram"

// CallbackQuery is a press on an inline keyboard button
// ("telegram.callback_query"); answer it with AnswerCallback.
type CallbackQuery struct {
	ID   string
	Data string
	From chat.Sender
	// MessageID is the message carrying the button, "" for inline messages.
	MessageID string
	Raw       *models.Update
}

// MemberUpdate is a change of someone's membership in the chat, the bot's
// own included ("telegram.member"): Old and New are statuses such as
// "member", "left", "administrator", "kicked".
type MemberUpdate struct {
	Member   chat.Sender
	Old, New string
	Raw      *models.Update
}

// Update is any other update about a chat, such as a reaction
// ("telegram.update").
type Update struct{ Raw *models.Update }

// AnswerCallback answers a callback query, optionally with a notification
// or an alert ("telegram.answer_callback").
type AnswerCallback struct {
	CallbackID string
	Text       string
	ShowAlert  bool
}

// Type implements core.Event.
func (CallbackQuery) Type() string  { return "telegram.callback_query" }
func (MemberUpdate) Type() string   { return "telegram.member" }
func (Update) Type() string         { return "telegram.update" }
func (AnswerCallback) Type() string { return "telegram.answer_callback" }

// target is the conversation an update belongs to: a chat and, in a forum,
// a topic.
type target struct {
	chat   int64
	thread int
	group  bool
}

func (t target) key(bot string) string {
	k := Platform + ":" + bot + ":" + strconv.FormatInt(t.chat, 10)
	if t.thread != 0 {
		k += ":" + strconv.Itoa(t.thread)
	}
	return k
}

func targetOf(c models.Chat, m *models.Message) target {
	t := target{chat: c.ID, group: c.Type != models.ChatTypePrivate}
	if m != nil && m.IsTopicMessage {
		t.thread = m.MessageThreadID
	}
	return t
}

// event turns an update into the event for its scope; ok is false for
// updates that belong to no chat (inline queries, polls, …).
func (b *botRunner) event(u *models.Update) (ev core.Event, t target, ok bool) {
	switch {
	case u.Message != nil:
		return b.message(u, u.Message), targetOf(u.Message.Chat, u.Message), true
	case u.ChannelPost != nil:
		return b.message(u, u.ChannelPost), targetOf(u.ChannelPost.Chat, u.ChannelPost), true
	case u.EditedMessage != nil:
		return &chat.Edited{Message: *b.message(u, u.EditedMessage)}, targetOf(u.EditedMessage.Chat, u.EditedMessage), true
	case u.EditedChannelPost != nil:
		return &chat.Edited{Message: *b.message(u, u.EditedChannelPost)}, targetOf(u.EditedChannelPost.Chat, u.EditedChannelPost), true
	case u.CallbackQuery != nil:
		return callback(u)
	case u.MyChatMember != nil:
		return member(u, u.MyChatMember), targetOf(u.MyChatMember.Chat, nil), true
	case u.ChatMember != nil:
		return member(u, u.ChatMember), targetOf(u.ChatMember.Chat, nil), true
	case u.MessageReaction != nil:
		return Update{Raw: u}, targetOf(u.MessageReaction.Chat, nil), true
	}
	return nil, target{}, false
}

func callback(u *models.Update) (core.Event, target, bool) {
	q := u.CallbackQuery
	ev := CallbackQuery{ID: q.ID, Data: q.Data, From: sender(&q.From), Raw: u}
	// A button on an inline message has no chat: its scope is the private
	// chat with whoever pressed it.
	t := target{chat: q.From.ID}
	if m := q.Message.Message; m != nil {
		ev.MessageID = strconv.Itoa(m.ID)
		t = targetOf(m.Chat, m)
	}
	return ev, t, true
}

func member(u *models.Update, m *models.ChatMemberUpdated) MemberUpdate {
	ev := MemberUpdate{Old: string(m.OldChatMember.Type), New: string(m.NewChatMember.Type), Raw: u}
	if who := memberUser(m.NewChatMember); who != nil {
		ev.Member = sender(who)
	}
	return ev
}

func memberUser(m models.ChatMember) *models.User {
	switch {
	case m.Owner != nil:
		return m.Owner.User
	case m.Administrator != nil:
		return &m.Administrator.User
	case m.Member != nil:
		return m.Member.User
	case m.Restricted != nil:
		return m.Restricted.User
	case m.Left != nil:
		return m.Left.User
	case m.Banned != nil:
		return m.Banned.User
	}
	return nil
}

// message renders a Telegram message in the common chat form.
func (b *botRunner) message(u *models.Update, m *models.Message) *chat.Message {
	out := &chat.Message{
		ID:          strconv.Itoa(m.ID),
		Text:        m.Text,
		Chat:        chatOf(m),
		Attachments: attachments(m),
		Platform:    Platform,
		Bot:         b.cfg.Name,
		Raw:         u,
	}
	if out.Text == "" {
		out.Text = m.Caption
	}
	switch {
	case m.SenderChat != nil: // a channel post, or sent on behalf of a chat: From is then a placeholder
		out.Sender = chat.Sender{ID: strconv.FormatInt(m.SenderChat.ID, 10), Name: m.SenderChat.Title, Username: m.SenderChat.Username}
	case m.From != nil:
		out.Sender = sender(m.From)
	}
	// In a forum every message "replies" to its topic's first message; that
	// is the thread, not a reply.
	if r := m.ReplyToMessage; r != nil && r.ForumTopicCreated == nil {
		out.ReplyTo = &chat.MessageRef{ID: strconv.Itoa(r.ID), Text: r.Text}
		if r.From != nil {
			out.ReplyTo.Sender = sender(r.From)
		}
	}
	out.Command, out.Args, _ = chat.ParseCommand(out.Text, b.username)
	return out
}

func chatOf(m *models.Message) chat.Chat {
	c := chat.Chat{ID: strconv.FormatInt(m.Chat.ID, 10), Title: m.Chat.Title, Private: m.Chat.Type == models.ChatTypePrivate}
	if c.Title == "" {
		c.Title = fullName(m.Chat.FirstName, m.Chat.LastName)
	}
	if m.IsTopicMessage {
		c.Thread = strconv.Itoa(m.MessageThreadID)
	}
	return c
}

func sender(u *models.User) chat.Sender {
	return chat.Sender{ID: strconv.FormatInt(u.ID, 10), Name: fullName(u.FirstName, u.LastName), Username: u.Username, IsBot: u.IsBot}
}

func fullName(first, last string) string { return strings.TrimSpace(first + " " + last) }

// attachments lists a message's files; a photo is its largest size.
func attachments(m *models.Message) []chat.Attachment {
	var out []chat.Attachment
	add := func(kind, id, name, mime string, size int64) {
		out = append(out, chat.Attachment{Kind: kind, FileID: id, Name: name, MIME: mime, Size: size})
	}
	if n := len(m.Photo); n > 0 {
		p := m.Photo[n-1]
		add("photo", p.FileID, "", "image/jpeg", int64(p.FileSize))
	}
	if d := m.Document; d != nil {
		add("document", d.FileID, d.FileName, d.MimeType, d.FileSize)
	}
	if a := m.Audio; a != nil {
		add("audio", a.FileID, a.FileName, a.MimeType, a.FileSize)
	}
	if v := m.Voice; v != nil {
		add("voice", v.FileID, "", v.MimeType, v.FileSize)
	}
	if v := m.Video; v != nil {
		add("video", v.FileID, v.FileName, v.MimeType, v.FileSize)
	}
	if a := m.Animation; a != nil {
		add("animation", a.FileID, a.FileName, a.MimeType, a.FileSize)
	}
	if v := m.VideoNote; v != nil {
		add("video_note", v.FileID, "", "video/mp4", int64(v.FileSize))
	}
	if s := m.Sticker; s != nil {
		add("sticker", s.FileID, s.Emoji, "", int64(s.FileSize))
	}
	return out
}
