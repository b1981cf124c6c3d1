package chat

import (
	"reflect"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
)

func TestActionMessageRoundTrip(t *testing.T) {
	for _, a := range []core.Event{
		Send{Text: "hi", ReplyTo: "7", HubID: "h1"},
		Edit{MessageID: "7", Text: "hi!"},
		Delete{MessageID: "7"},
		React{MessageID: "7", Emoji: "👍"},
		Typing{},
	} {
		m, err := ActionMessage("telegram:support:42", a)
		if err != nil {
			t.Fatalf("ActionMessage(%#v): %v", a, err)
		}
		scope, got, err := ParseActionMessage(m)
		if err != nil || scope != "telegram:support:42" || !reflect.DeepEqual(got, a) {
			t.Errorf("round trip of %#v = %q, %#v, %v", a, scope, got, err)
		}
	}
}

func TestActionMessageRefusals(t *testing.T) {
	if _, err := ActionMessage("s", Message{}); err == nil {
		t.Error("ActionMessage of an incoming event: want an error")
	}
	for _, m := range []layer.Message{
		{"type": "chat.send", "text": "no scope"},
		{"type": "chat.explode", "scope": "s"},
		{"scope": "s"},
	} {
		if _, _, err := ParseActionMessage(m); err == nil {
			t.Errorf("ParseActionMessage(%v): want an error", m)
		}
	}
}

func TestActionChannelIsAValidName(t *testing.T) {
	if err := layer.ValidChannelName(ActionChannel("telegram", "support-bot_1")); err != nil {
		t.Fatal(err)
	}
}
