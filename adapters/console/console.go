package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// Platform is the scope type and chat.Message.Platform of this adapter.
const Platform = "console"

// stopGrace is how long the consumer has to answer its last lines and say
// goodbye once the input ends.
const stopGrace = 5 * time.Second

// Options configure an Adapter.
type Options struct {
	// Runtime runs the consumer; its Store keeps the conversation's state.
	Runtime *core.Runtime
	// User names the person typing ("ada"): the scope key is
	// "console:<User>", so each user has a conversation of their own.
	User string
	In   io.Reader
	Out  io.Writer
}

// Adapter is one terminal conversation.
type Adapter struct {
	opts Options

	mu     sync.Mutex // serialises writes and message ids
	nextID int
}

// New checks the options.
func New(opts Options) (*Adapter, error) {
	switch {
	case opts.Runtime == nil:
		return nil, errors.New("console: no runtime")
	case opts.In == nil || opts.Out == nil:
		return nil, errors.New("console: no input or output")
	case opts.User == "" || strings.ContainsAny(opts.User, ": \t\n"):
		return nil, fmt.Errorf("console: user %q must be a non-empty name without ':' or spaces", opts.User)
	}
	return &Adapter{opts: opts}, nil
}

// Key is the conversation's scope key.
func (a *Adapter) Key() string { return Platform + ":" + a.opts.User }

// Run holds the conversation until the input ends or ctx does: each
// non-empty line goes to the consumer as a message, in order, and its
// answers are written as they come. When the input ends the consumer
// answers what it was given, then gets a chat.Disconnect ("shutdown").
func (a *Adapter) Run(ctx context.Context) error {
	scope := &core.Scope{Type: Platform, Key: a.Key(), Bot: Platform, User: &core.User{ID: a.opts.User, Name: a.opts.User}}
	inst, err := a.opts.Runtime.Start(ctx, scope, a.perform)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	lines := make(chan string)
	readErr := make(chan error, 1)
	// A read from a terminal cannot be interrupted: the reader may outlive
	// Run by one line when ctx ends first, and then exits.
	go func() { readErr <- a.read(ctx, lines) }()
	ended, err := a.converse(ctx, inst, lines)
	if ended {
		err = <-readErr // the reader has returned: why did the input end?
	}
	a.stop(inst)
	if err == nil {
		err = inst.Err()
	}
	return err
}

func (a *Adapter) read(ctx context.Context, lines chan<- string) error {
	defer close(lines)
	sc := bufio.NewScanner(a.opts.In)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		select {
		case lines <- sc.Text():
		case <-ctx.Done():
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("console: read: %w", err)
	}
	return nil
}

// converse delivers lines until the input ends (ended is then true) or
// the consumer or ctx stops it.
func (a *Adapter) converse(ctx context.Context, inst *core.Instance, lines <-chan string) (ended bool, err error) {
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return true, nil
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			if err := inst.Deliver(ctx, a.message(line)); err != nil {
				if errors.Is(err, core.ErrScopeClosed) || ctx.Err() != nil {
					return false, nil // the consumer ended the conversation, or we are stopping
				}
				return false, fmt.Errorf("console: %w", err)
			}
		case <-inst.Done():
			return false, nil
		case <-ctx.Done():
			return false, nil
		}
	}
}

// stop says goodbye: the Disconnect comes after every line delivered, so
// the consumer answers them all first.
func (a *Adapter) stop(inst *core.Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	if err := inst.Deliver(ctx, chat.Disconnect{Reason: "shutdown"}); err == nil {
		select {
		case <-inst.Done():
		case <-ctx.Done():
		}
	}
	inst.Stop(stopGrace)
}

func (a *Adapter) message(line string) *chat.Message {
	me := chat.Sender{ID: a.opts.User, Name: a.opts.User, Username: a.opts.User}
	m := &chat.Message{
		ID:       a.newID(),
		Text:     line,
		Sender:   me,
		Chat:     chat.Chat{ID: a.opts.User, Title: a.opts.User, Private: true},
		Platform: Platform,
		Bot:      Platform,
		Raw:      line,
	}
	m.Command, m.Args, _ = chat.ParseCommand(line, "")
	return m
}

func (a *Adapter) newID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nextID++
	return strconv.Itoa(a.nextID)
}

// perform writes an action as a line. A sent message gets an id like a
// typed one, so a consumer can edit or delete it.
func (a *Adapter) perform(_ context.Context, ev core.Event) error {
	var line string
	switch ev := ev.(type) {
	case chat.Send:
		line = ev.Text
		if ev.Sent != nil {
			*ev.Sent = a.newID()
		}
	case chat.Edit:
		line = fmt.Sprintf("[edited #%s] %s", ev.MessageID, ev.Text)
	case chat.Delete:
		line = fmt.Sprintf("[deleted #%s]", ev.MessageID)
	case chat.React:
		line = fmt.Sprintf("[reacted %s to #%s]", ev.Emoji, ev.MessageID)
	case chat.Typing:
		return nil // a terminal shows the answer soon enough
	default:
		return fmt.Errorf("console: unsupported action %q", ev.Type())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := fmt.Fprintln(a.opts.Out, line); err != nil {
		return fmt.Errorf("console: write: %w", err)
	}
	return nil
}
