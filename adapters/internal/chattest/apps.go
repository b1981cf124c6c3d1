package chattest

import (
	"context"
	"fmt"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// Quiet is an application that takes its events and does nothing.
func Quiet() core.Application {
	return core.AppFunc(func(ctx context.Context, _ *core.Scope, inbox core.Inbox, _ core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			if _, ok := ev.(chat.Disconnect); ok {
				return nil
			}
		}
	})
}

// Copier answers each message with "copy of" its text, sent with hub id
// "hub-" and the message's id, as a relay sends a line it copies.
func Copier() core.Application {
	copier := consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
		return c.Do(chat.Send{Text: "copy of " + m.Text, HubID: "hub-" + m.ID})
	})
	return consumers.NewChat(func() consumers.ChatHandler { return copier })
}

// Burst answers each message with n messages at once, "burst 0" to
// "burst n-1": what a rate limit has to space out.
func Burst(n int) core.Application {
	burst := consumers.ChatFunc(func(c *consumers.ChatConn, m *chat.Message) error {
		for i := range n {
			if err := c.Send(fmt.Sprint("burst ", i)); err != nil {
				return err
			}
		}
		return nil
	})
	return consumers.NewChat(func() consumers.ChatHandler { return burst })
}
