package exec

import (
	"encoding/json"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/websocket"
)

type custom struct{ Data string }

func (custom) Type() string { return "telegram.callback_query" }

func TestEncodeEvent(t *testing.T) {
	for _, c := range []struct {
		ev   core.Event
		want string
	}{
		{&chat.Message{ID: "7", Text: "/name Ada", Command: "name", Args: "Ada",
			Sender: chat.Sender{ID: "1", Name: "Ada", IsBot: false}, Chat: chat.Chat{ID: "1", Private: true},
			ReplyTo:     &chat.MessageRef{ID: "6", Sender: chat.Sender{ID: "2"}},
			Attachments: []chat.Attachment{{Kind: "photo", FileID: "f"}}, Platform: "telegram", Raw: map[string]int{"update_id": 3}},
			`{"type":"chat.message","id":"7","text":"/name Ada","sender":{"id":"1","name":"Ada"},"chat":{"id":"1","private":true},` +
				`"reply_to":{"id":"6","sender":{"id":"2"}},"attachments":[{"kind":"photo","file_id":"f"}],"command":"name","args":"Ada",` +
				`"platform":"telegram","raw":{"update_id":3}}`},
		{chat.Edited{Message: chat.Message{ID: "7", Text: "x"}}, `{"type":"chat.edited","id":"7","text":"x","sender":{"id":""},"chat":{"id":""}}`},
		{chat.Disconnect{Reason: "idle"}, `{"reason":"idle","type":"chat.disconnect"}`},
		{connectEvent{Resumed: true}, `{"resumed":true,"type":"scope.connect"}`},
		{websocket.Receive{Bytes: []byte{1, 2}}, `{"bytes":"AQI=","type":"websocket.receive"}`},
		{websocket.Receive{Text: "hi"}, `{"text":"hi","type":"websocket.receive"}`},
		{layer.Message{"type": "room.shout", "n": 1}, `{"n":1,"type":"room.shout"}`},
		{custom{Data: "yes"}, `{"Data":"yes","type":"telegram.callback_query"}`},
	} {
		body, err := encodeEvent(c.ev)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(body)
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.ev.Type(), got, c.want)
		}
	}
}

func TestActions(t *testing.T) {
	id := ""
	for _, c := range []struct {
		in   string
		want core.Event
	}{
		{`{"type":"chat.send","text":"hi","reply_to":"7"}`, chat.Send{Text: "hi", ReplyTo: "7", Sent: &id}},
		{`{"type":"chat.edit","message_id":"8","text":"x"}`, chat.Edit{MessageID: "8", Text: "x"}},
		{`{"type":"chat.react","message_id":"8","emoji":"👍"}`, chat.React{MessageID: "8", Emoji: "👍"}},
		{`{"type":"websocket.close","code":4000}`, websocket.Close{Code: 4000}},
		{`{"type":"layer.send"}`, nil},
	} {
		var a action
		if err := json.Unmarshal([]byte(c.in), &a); err != nil {
			t.Fatal(err)
		}
		got, ok := a.platformEvent(&id)
		if ok != (c.want != nil) {
			t.Fatalf("%s: platform event %v", c.in, ok)
		}
		if gs, isSend := got.(chat.Send); isSend {
			if gs != c.want.(chat.Send) {
				t.Errorf("%s: got %+v", c.in, gs)
			}
			continue
		}
		if ok && got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var lines []string
	long := 0
	w := &lineWriter{line: func(b []byte) { lines = append(lines, string(b)) }, long: func() { long++ }}
	w.Write([]byte("a\nb"))
	w.Write([]byte("c\n"))
	w.Write(make([]byte, maxLine+1))
	w.Write([]byte("tail\nd\n"))
	if len(lines) != 3 || lines[0] != "a" || lines[1] != "bc" || lines[2] != "d" || long != 1 {
		t.Fatalf("lines %q, %d too long", lines, long)
	}
}
