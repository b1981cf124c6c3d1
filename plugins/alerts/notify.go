package alerts

import (
	"fmt"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
)

// NewNotify returns the chat-side consumer: every conversation routed to it
// joins group while its scope is open, and posts each alert sent to the
// group. It runs on any chat platform.
//
// A chat scope is open from a conversation's first message until it has been
// idle for the adapter's idle timeout; alerts sent while it is closed are not
// seen by it (the channel layer is at-most-once and holds no mailbox for
// absent members). Someone has to have written to the bot recently.
func NewNotify(group string) (core.Application, error) {
	if err := layer.ValidGroupName(group); err != nil {
		return nil, fmt.Errorf("alerts-notify: group: %w", err)
	}
	return consumers.NewChat(func() consumers.ChatHandler { return &notifier{group: group} }), nil
}

// notifier is one conversation that receives alerts.
type notifier struct{ group string }

// Connect joins the group; the runtime leaves it when the scope ends.
func (n *notifier) Connect(c *consumers.ChatConn) error {
	if err := c.Scope.GroupAdd(c.Context(), n.group); err != nil {
		return fmt.Errorf("alerts-notify: join %s: %w", n.group, err)
	}
	return nil
}

// Receive answers /alerts and /start with what this chat receives, so a
// person can check the subscription (and, by writing, open the scope), and
// asks the sensors already above their threshold to report: an alert raised
// while this chat's scope was closed never reached it.
func (n *notifier) Receive(c *consumers.ChatConn, m *chat.Message) error {
	if m.Command != "alerts" && m.Command != "start" {
		return nil
	}
	// Asked before answering: the answers queue behind this event, so the
	// reply still comes first, and whoever sees the reply knows the question
	// has gone out.
	ask := layer.Message{"type": StatusType, "reply_to": c.Scope.Channel}
	if err := c.Scope.GroupSend(c.Context(), sensorsGroup(n.group), ask); err != nil {
		return fmt.Errorf("alerts-notify: ask for status: %w", err)
	}
	return c.Reply(m, fmt.Sprintf("This chat receives the alerts of group %q.", n.group))
}

// Event posts an alert sent to the group.
func (n *notifier) Event(c *consumers.ChatConn, ev core.Event) error {
	msg, ok := ev.(layer.Message)
	if !ok || msg.Type() != MessageType {
		return nil
	}
	text, _ := msg["text"].(string)
	if text == "" {
		return nil // not one the alerts consumer made; nothing to show
	}
	return c.Send(text)
}
