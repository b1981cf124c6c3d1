package telegram

import (
	"reflect"
	"testing"

	"github.com/go-telegram/bot/models"

	"github.com/hubhq/hub/core/chat"
)

func TestMessageEvent(t *testing.T) {
	b := &botRunner{cfg: BotConfig{Name: "support"}, username: "help_bot"}
	ada := &models.User{ID: 7, FirstName: "Ada", LastName: "Lovelace", Username: "ada"}
	u := &models.Update{ID: 1, Message: &models.Message{
		ID:              10,
		MessageThreadID: 3,
		IsTopicMessage:  true,
		From:            ada,
		Chat:            models.Chat{ID: -100, Type: models.ChatTypeSupergroup, Title: "Engines", IsForum: true},
		Caption:         "/Note@help_bot look at this",
		Document:        &models.Document{FileID: "doc1", FileName: "notes.pdf", MimeType: "application/pdf", FileSize: 2048},
		ReplyToMessage:  &models.Message{ID: 9, Text: "earlier", From: &models.User{ID: 8, FirstName: "Charles"}},
	}}
	ev, tgt, ok := b.event(u)
	if !ok || tgt != (target{chat: -100, thread: 3, group: true}) || tgt.key("support") != "telegram:support:-100:3" {
		t.Fatalf("target %+v, %v", tgt, ok)
	}
	want := &chat.Message{
		ID:          "10",
		Text:        "/Note@help_bot look at this",
		Sender:      chat.Sender{ID: "7", Name: "Ada Lovelace", Username: "ada"},
		Chat:        chat.Chat{ID: "-100", Title: "Engines", Thread: "3"},
		ReplyTo:     &chat.MessageRef{ID: "9", Text: "earlier", Sender: chat.Sender{ID: "8", Name: "Charles"}},
		Attachments: []chat.Attachment{{Kind: "document", Name: "notes.pdf", MIME: "application/pdf", Size: 2048, FileID: "doc1"}},
		Command:     "note",
		Args:        "look at this",
		Platform:    "telegram",
		Bot:         "support",
		Raw:         u,
	}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("event\n got %+v\nwant %+v", ev, want)
	}
}

func TestOtherUpdates(t *testing.T) {
	b := &botRunner{cfg: BotConfig{Name: "support"}, username: "help_bot"}
	private := models.Chat{ID: 42, Type: models.ChatTypePrivate, FirstName: "Ada"}
	channel := models.Chat{ID: -200, Type: models.ChatTypeChannel, Title: "News"}
	ada := models.User{ID: 42, FirstName: "Ada"}
	tests := []struct {
		name   string
		update *models.Update
		typ    string
		target target
	}{
		{"edited", &models.Update{EditedMessage: &models.Message{ID: 1, Chat: private, From: &ada, Text: "fixed"}}, "chat.edited", target{chat: 42}},
		{"channel post", &models.Update{ChannelPost: &models.Message{ID: 1, Chat: channel, SenderChat: &channel, Text: "news"}}, "chat.message", target{chat: -200, group: true}},
		{"callback", &models.Update{CallbackQuery: &models.CallbackQuery{ID: "cb", From: ada, Data: "yes", Message: models.MaybeInaccessibleMessage{Message: &models.Message{ID: 5, Chat: private}}}}, "telegram.callback_query", target{chat: 42}},
		{"inline callback", &models.Update{CallbackQuery: &models.CallbackQuery{ID: "cb", From: ada, InlineMessageID: "x"}}, "telegram.callback_query", target{chat: 42}},
		{"member", &models.Update{MyChatMember: &models.ChatMemberUpdated{Chat: channel, NewChatMember: models.ChatMember{Type: models.ChatMemberTypeAdministrator, Administrator: &models.ChatMemberAdministrator{User: ada}}}}, "telegram.member", target{chat: -200, group: true}},
		{"reaction", &models.Update{MessageReaction: &models.MessageReactionUpdated{Chat: private, MessageID: 1}}, "telegram.update", target{chat: 42}},
	}
	for _, tt := range tests {
		ev, tgt, ok := b.event(tt.update)
		if !ok || ev.Type() != tt.typ || tgt != tt.target {
			t.Errorf("%s: %v %+v %v; want %s %+v", tt.name, ev, tgt, ok, tt.typ, tt.target)
		}
	}
	if _, _, ok := b.event(&models.Update{InlineQuery: &models.InlineQuery{ID: "q"}}); ok {
		t.Error("an inline query belongs to no chat")
	}
	ev, _, _ := b.event(tests[1].update)
	if m := ev.(*chat.Message); m.Sender.Name != "News" || m.Chat.Private {
		t.Errorf("channel post %+v", m)
	}
	ev, _, _ = b.event(tests[4].update)
	if m := ev.(MemberUpdate); m.New != "administrator" || m.Member.ID != "42" {
		t.Errorf("member update %+v", m)
	}
}

// A getUpdates answer is decoded once: each update with the JSON it came
// in (what the journal keeps), whatever the spacing and the keys' order.
// (Here rather than in poll_test.go, which tests from outside the package.)
func TestParseUpdates(t *testing.T) {
	u1 := `{"update_id":7,"message":{"message_id":1,"date":5,"chat":{"id":42,"type":"private"},"text":"a, b"}}`
	u2 := `{ "update_id" : 8 , "edited_message" : {"message_id":1,"date":6,"chat":{"id":-3,"type":"group"},"text":"]"} , "x":[1,{}] }`
	body := "{\"result\" : [ " + u1 + " ,\n\t" + u2 + "\n] , \"extra\": {\"a\":[]}, \"ok\":true}\n"
	env, got, err := parseUpdates([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !env.OK || len(got) != 2 {
		t.Fatalf("ok %v, %d updates; want true, 2", env.OK, len(got))
	}
	if string(got[0].raw) != u1 || string(got[1].raw) != u2 {
		t.Fatalf("raw updates:\n%s\n%s\nwant\n%s\n%s", got[0].raw, got[1].raw, u1, u2)
	}
	if u := got[0].u; u.ID != 7 || u.Message == nil || u.Message.Text != "a, b" || u.Message.Chat.ID != 42 {
		t.Fatalf("first update decoded as %+v", u)
	}
	if u := got[1].u; u.ID != 8 || u.EditedMessage == nil || u.EditedMessage.Text != "]" || u.EditedMessage.Chat.ID != -3 {
		t.Fatalf("second update decoded as %+v", u)
	}

	for body, want := range map[string]envelope{
		`{"ok":true,"result":[]}`: {OK: true},
		`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}`: {
			ErrorCode: 429, Description: "Too Many Requests: retry after 3", Parameters: struct {
				RetryAfter int `json:"retry_after"`
			}{3}},
		`{"ok":false,"result":null,"error_code":409,"description":"Conflict"}`: {ErrorCode: 409, Description: "Conflict"},
	} {
		env, got, err := parseUpdates([]byte(body))
		if err != nil || env != want || len(got) != 0 {
			t.Errorf("%s: %+v, %d updates, %v; want %+v, none", body, env, len(got), err, want)
		}
	}
	for _, body := range []string{``, `[]`, `{"ok":true,"result":[{"update_id":"x"}]}`, `{"ok":true,"result":[{"update_id":1}`} {
		if _, _, err := parseUpdates([]byte(body)); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}
