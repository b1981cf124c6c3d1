package chat

import (
	"fmt"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
)

// ActionChannel is the layer channel on which a chat adapter's bot takes
// actions for any of its conversations, open or not. It is how a consumer
// outside a conversation (the bridge's relay, a worker, another process on
// the same layer) posts in one: it sends an [ActionMessage] there.
func ActionChannel(platform, bot string) string {
	return "chat.actions." + platform + "." + bot
}

// ActionMessage is the layer message asking for action in the conversation
// whose scope key is scope ("telegram:support:42"). Send.Sent cannot travel
// and is dropped; to learn the new message's id, set Send.HubID and read the
// store's message map.
func ActionMessage(scope string, action core.Event) (layer.Message, error) {
	m := layer.Message{"type": action.Type(), "scope": scope}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	switch a := action.(type) {
	case Send:
		set("text", a.Text)
		set("reply_to", a.ReplyTo)
		set("hub_id", a.HubID)
	case Edit:
		set("message_id", a.MessageID)
		set("text", a.Text)
	case Delete:
		set("message_id", a.MessageID)
	case React:
		set("message_id", a.MessageID)
		set("emoji", a.Emoji)
	case Typing:
	default:
		return nil, fmt.Errorf("chat: %s cannot be sent as an action message", action.Type())
	}
	return m, nil
}

// ParseActionMessage reads an [ActionMessage]: the conversation's scope key
// and the action. A message of another type, or without a scope, is an
// error that says so.
func ParseActionMessage(m layer.Message) (scope string, action core.Event, err error) {
	get := func(k string) string {
		s, _ := m[k].(string)
		return s
	}
	scope = get("scope")
	if scope == "" {
		return "", nil, fmt.Errorf("chat: action message %q without a scope", get("type"))
	}
	switch t := get("type"); t {
	case "chat.send":
		action = Send{Text: get("text"), ReplyTo: get("reply_to"), HubID: get("hub_id")}
	case "chat.edit":
		action = Edit{MessageID: get("message_id"), Text: get("text")}
	case "chat.delete":
		action = Delete{MessageID: get("message_id")}
	case "chat.react":
		action = React{MessageID: get("message_id"), Emoji: get("emoji")}
	case "chat.typing":
		action = Typing{}
	default:
		return "", nil, fmt.Errorf("chat: unknown action message type %q", t)
	}
	return scope, action, nil
}
