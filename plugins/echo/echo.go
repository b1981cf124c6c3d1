// Package echo is the smallest chat plugin, Channels' ChatConsumer ported:
// it greets a conversation, echoes what is said and remembers the name set
// with /name in the conversation's state, so the name survives restarts.
// It runs unchanged on every chat platform.
package echo

import (
	"fmt"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// New returns the echo application.
func New() core.Application {
	return consumers.NewChat(func() consumers.ChatHandler { return &Echo{} })
}

// Echo is one conversation with the echo bot.
type Echo struct {
	name     string
	commands consumers.Commands
}

// Connect greets the conversation with its remembered name.
func (e *Echo) Connect(c *consumers.ChatConn) error {
	e.name = c.State.String("name", "")
	e.commands = consumers.Commands{"start": e.start, "name": e.setName, "": e.echo}
	return c.Send(fmt.Sprintf("[Welcome %s!]", e.displayName()))
}

// Receive answers commands and echoes everything else.
func (e *Echo) Receive(c *consumers.ChatConn, m *chat.Message) error {
	return e.commands.Receive(c, m)
}

func (e *Echo) start(c *consumers.ChatConn, m *chat.Message) error {
	return c.Reply(m, "I repeat what you say. /name NAME tells me who you are.")
}

func (e *Echo) setName(c *consumers.ChatConn, m *chat.Message) error {
	if m.Args == "" {
		return c.Reply(m, "Usage: /name NAME")
	}
	if err := c.State.Set("name", m.Args); err != nil {
		return fmt.Errorf("echo: remember name: %w", err)
	}
	e.name = m.Args
	return c.Reply(m, "[set your username to "+e.name+"]")
}

func (e *Echo) echo(c *consumers.ChatConn, m *chat.Message) error {
	if e.name == "" {
		return c.Reply(m, "You said: "+m.Text)
	}
	return c.Reply(m, e.name+": You said: "+m.Text)
}

func (e *Echo) displayName() string {
	if e.name == "" {
		return "Anonymous"
	}
	return e.name
}
