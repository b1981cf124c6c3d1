package telegramtest

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
)

// methods answer the Bot API calls the fake knows, by lower-cased name
// (the real API ignores case). They run under s.mu; getUpdates is answered
// separately because it waits.
var methods = map[string]func(b *Bot, p params, now time.Time) (any, *apiError){
	"getme":               (*Bot).getMe,
	"sendmessage":         (*Bot).sendMessage,
	"editmessagetext":     (*Bot).editMessageText,
	"deletemessage":       (*Bot).deleteMessage,
	"setmessagereaction":  (*Bot).setMessageReaction,
	"sendchataction":      (*Bot).sendChatAction,
	"answercallbackquery": (*Bot).answerCallbackQuery,
	"setwebhook":          (*Bot).setWebhook,
	"deletewebhook":       (*Bot).deleteWebhook,
	"getwebhookinfo":      (*Bot).getWebhookInfo,
}

func (b *Bot) user() *models.User {
	return &models.User{ID: b.ID, IsBot: true, FirstName: b.Username, Username: b.Username}
}

func (b *Bot) getMe(params, time.Time) (any, *apiError) { return b.user(), nil }

// chatOf finds the chat a request names. A bot can only reach chats it has
// heard from, as on Telegram.
func (b *Bot) chatOf(p params) (*chatLog, *apiError) {
	raw := p["chat_id"]
	if raw == "" {
		return nil, badRequest("chat_id is empty")
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || b.chats[id] == nil {
		return nil, badRequest("chat not found")
	}
	return b.chats[id], nil
}

// messageOf finds the message a request names by message_id.
func (b *Bot) messageOf(p params, notFound string) (*chatLog, *Message, *apiError) {
	c, err := b.chatOf(p)
	if err != nil {
		return nil, nil, err
	}
	id, _ := strconv.Atoi(p["message_id"])
	m := c.msgs[id]
	if m == nil || m.Deleted {
		return nil, nil, badRequest("%s", notFound)
	}
	return c, m, nil
}

func checkText(text string) *apiError {
	switch {
	case strings.TrimSpace(text) == "":
		return badRequest("message text is empty")
	case utf8.RuneCountInString(text) > 4096:
		return badRequest("message is too long")
	}
	return nil
}

func (b *Bot) sendMessage(p params, now time.Time) (any, *apiError) {
	c, err := b.chatOf(p)
	if err != nil {
		return nil, err
	}
	if err := checkText(p["text"]); err != nil {
		return nil, err
	}
	reply, err := replyTarget(c, p)
	if err != nil {
		return nil, err
	}
	thread, _ := strconv.Atoi(p["message_thread_id"])
	m := &Message{ID: c.nextID + 1, ChatID: c.chat.ID, ThreadID: thread, Text: p["text"], ReplyTo: reply, FromBot: true, Time: now}
	c.add(m)
	return b.model(c, m), nil
}

// replyTarget reads reply_parameters (or the older reply_to_message_id).
func replyTarget(c *chatLog, p params) (int, *apiError) {
	var rp struct {
		MessageID                int  `json:"message_id"`
		AllowSendingWithoutReply bool `json:"allow_sending_without_reply"`
	}
	if raw := p["reply_parameters"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &rp); err != nil {
			return 0, badRequest("can't parse reply parameters JSON object")
		}
	} else {
		rp.MessageID, _ = strconv.Atoi(p["reply_to_message_id"])
	}
	if rp.MessageID == 0 {
		return 0, nil
	}
	if m := c.msgs[rp.MessageID]; m == nil || m.Deleted {
		if rp.AllowSendingWithoutReply {
			return 0, nil
		}
		return 0, badRequest("message to be replied not found")
	}
	return rp.MessageID, nil
}

func (b *Bot) editMessageText(p params, _ time.Time) (any, *apiError) {
	c, m, err := b.messageOf(p, "message to edit not found")
	if err != nil {
		return nil, err
	}
	if !m.FromBot {
		return nil, badRequest("message can't be edited")
	}
	if err := checkText(p["text"]); err != nil {
		return nil, err
	}
	if m.Text == p["text"] {
		return nil, badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.Text, m.Edited = p["text"], true
	return b.model(c, m), nil
}

func (b *Bot) deleteMessage(p params, _ time.Time) (any, *apiError) {
	_, m, err := b.messageOf(p, "message to delete not found")
	if err != nil {
		return nil, err
	}
	m.Deleted = true
	return true, nil
}

func (b *Bot) setMessageReaction(p params, _ time.Time) (any, *apiError) {
	_, m, err := b.messageOf(p, "MESSAGE_ID_INVALID")
	if err != nil {
		return nil, err
	}
	var reactions []struct{ Type, Emoji string }
	if raw := p["reaction"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &reactions); err != nil {
			return nil, badRequest("can't parse reaction types JSON object")
		}
	}
	switch {
	case len(reactions) > 1:
		return nil, badRequest("REACTIONS_TOO_MANY")
	case len(reactions) == 1 && (reactions[0].Type != "emoji" || reactions[0].Emoji == ""):
		return nil, badRequest("REACTION_INVALID")
	case len(reactions) == 1:
		m.Reaction = reactions[0].Emoji
	default:
		m.Reaction = ""
	}
	return true, nil
}

var chatActions = map[string]bool{
	"typing": true, "upload_photo": true, "record_video": true, "upload_video": true,
	"record_voice": true, "upload_voice": true, "upload_document": true, "choose_sticker": true,
	"find_location": true, "record_video_note": true, "upload_video_note": true,
}

func (b *Bot) sendChatAction(p params, _ time.Time) (any, *apiError) {
	if _, err := b.chatOf(p); err != nil {
		return nil, err
	}
	if !chatActions[p["action"]] {
		return nil, badRequest("wrong parameter action in request")
	}
	return true, nil
}

func (b *Bot) answerCallbackQuery(p params, _ time.Time) (any, *apiError) {
	id := p["callback_query_id"]
	if answered, ok := b.callbacks[id]; !ok || answered {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	b.callbacks[id] = true
	return true, nil
}

// model renders a fake message as the API returns it.
func (b *Bot) model(c *chatLog, m *Message) *models.Message {
	out := &models.Message{ID: m.ID, MessageThreadID: m.ThreadID, From: b.user(), Chat: c.chat, Date: int(m.Time.Unix()), Text: m.Text}
	if m.ThreadID != 0 {
		out.IsTopicMessage = true
	}
	if r := c.msgs[m.ReplyTo]; r != nil {
		out.ReplyToMessage = &models.Message{ID: r.ID, Chat: c.chat, Date: int(r.Time.Unix()), Text: r.Text}
	}
	if m.Edited {
		out.EditDate = int(time.Now().Unix())
	}
	return out
}
