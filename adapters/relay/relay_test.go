package relay_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/relay"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/internal/syncbuf"
	"github.com/hubhq/hub/store"
)

// done is one action performed.
type done struct {
	key    string
	chat   int
	action core.Event
}

// bench runs relay.Run for bot "support" of platform "test" until the test
// ends; conversations are integer chat ids, and perform reports each action.
type bench struct {
	layer *layer.Memory
	logs  *syncbuf.Buffer
	done  chan done
	// hold, while set, makes actions in its chat wait until it is closed.
	mu   sync.Mutex
	hold map[int]chan struct{}
	stop context.CancelFunc
	ran  chan struct{}
}

func newBench(t *testing.T, cfg relay.Config[int], opts layer.Options) *bench {
	t.Helper()
	b := &bench{layer: layer.NewMemory(opts), logs: &syncbuf.Buffer{}, done: make(chan done, 100), hold: map[int]chan struct{}{}, ran: make(chan struct{})}
	cfg.Layer, cfg.Platform, cfg.Bot = b.layer, "test", "support"
	cfg.Log = slog.New(slog.NewTextHandler(b.logs, nil))
	cfg.Parse = func(s string) (int, error) { return strconv.Atoi(s) }
	cfg.Perform = func(ctx context.Context, key string, chat int, action core.Event) error {
		b.mu.Lock()
		hold := b.hold[chat]
		b.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		b.done <- done{key, chat, action}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	go func() { relay.Run(ctx, cfg); close(b.ran) }()
	t.Cleanup(func() {
		b.stop()
		<-b.ran
		if t.Failed() {
			t.Logf("logs:\n%s", b.logs)
		}
	})
	return b
}

// holdChat makes the actions of a chat wait until the returned func is called.
func (b *bench) holdChat(chat int) (release func()) {
	ch := make(chan struct{})
	b.mu.Lock()
	b.hold[chat] = ch
	b.mu.Unlock()
	return func() { close(ch) }
}

func (b *bench) send(t *testing.T, scope string, action core.Event) {
	t.Helper()
	m, err := chat.ActionMessage(scope, action)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.layer.Send(context.Background(), chat.ActionChannel("test", "support"), m); err != nil {
		t.Fatal(err)
	}
}

func (b *bench) next(t *testing.T) done {
	t.Helper()
	select {
	case d := <-b.done:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no action performed")
		return done{}
	}
}

func TestRunKeepsEachConversationsOrder(t *testing.T) {
	b := newBench(t, relay.Config[int]{}, layer.Options{})
	release := b.holdChat(1)
	for i := range 3 {
		b.send(t, "test:support:1", chat.Send{Text: fmt.Sprint("one ", i)})
	}
	// Chat 1 is held; chat 2 goes on meanwhile.
	b.send(t, "test:support:2", chat.Send{Text: "two"})
	if d := b.next(t); d.chat != 2 || d.key != "test:support:2" {
		t.Fatalf("first action done = %+v, want chat 2's", d)
	}
	release()
	for i := range 3 {
		d := b.next(t)
		if want := fmt.Sprint("one ", i); d.chat != 1 || d.action.(chat.Send).Text != want {
			t.Fatalf("action %d done = %+v, want chat 1's %q", i, d, want)
		}
	}
}

func TestRunDropsWhatIsNotAnActionForTheBot(t *testing.T) {
	b := newBench(t, relay.Config[int]{}, layer.Options{})
	channel := chat.ActionChannel("test", "support")
	for _, m := range []layer.Message{
		{"type": "chat.explode", "scope": "test:support:1"},
		{"type": "chat.send", "text": "no scope"},
		{"type": "chat.send", "scope": "test:other:1", "text": "another bot's"},
		{"type": "chat.send", "scope": "other:support:1", "text": "another platform's"},
		{"type": "chat.send", "scope": "test:support:abc", "text": "bad chat"},
	} {
		if err := b.layer.Send(context.Background(), channel, m); err != nil {
			t.Fatal(err)
		}
	}
	b.send(t, "test:support:1", chat.Send{Text: "good"})
	if d := b.next(t); d.action.(chat.Send).Text != "good" {
		t.Fatalf("done %+v, want the good one", d)
	}
	logs := b.logs.String()
	if n := strings.Count(logs, "action message dropped"); n != 5 {
		t.Errorf("%d messages logged as dropped, want 5:\n%s", n, logs)
	}
	for _, want := range []string{`unknown action message type \"chat.explode\"`, "without a scope", "scope=test:other:1", "scope=other:support:1", "scope=test:support:abc"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		if strings.Contains(line, "dropped") && (!strings.Contains(line, "level=WARN") || !strings.Contains(line, "bot=support")) {
			t.Errorf("drop not logged as a warning with the bot: %s", line)
		}
	}
}

// flaky is a layer whose first Receive calls fail.
type flaky struct {
	layer.Layer
	mu    sync.Mutex
	fails int
}

func (f *flaky) Receive(ctx context.Context, channel string) (layer.Message, error) {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		return nil, errors.New("layer down")
	}
	return f.Layer.Receive(ctx, channel)
}

func TestRunRetriesAFailingLayer(t *testing.T) {
	mem := layer.NewMemory(layer.Options{})
	logs := &syncbuf.Buffer{}
	performed := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		relay.Run(ctx, relay.Config[string]{
			Layer: &flaky{Layer: mem, fails: 2}, Platform: "test", Bot: "support",
			Log:   slog.New(slog.NewTextHandler(logs, nil)),
			Parse: func(s string) (string, error) { return s, nil },
			Perform: func(_ context.Context, key, _ string, _ core.Event) error {
				performed <- key
				return nil
			},
		})
	}()
	t.Cleanup(func() { cancel(); <-ran })
	m, _ := chat.ActionMessage("test:support:1", chat.Typing{})
	if err := mem.Send(ctx, chat.ActionChannel("test", "support"), m); err != nil {
		t.Fatal(err)
	}
	select {
	case <-performed:
	case <-time.After(10 * time.Second):
		t.Fatalf("no action after the layer recovered; logs:\n%s", logs)
	}
	if n := strings.Count(logs.String(), "could not receive actions; retrying"); n != 2 {
		t.Errorf("%d failed receives logged, want 2:\n%s", n, logs)
	}
}

func TestRunFinishesWhatItReceivedWhenStopped(t *testing.T) {
	b := newBench(t, relay.Config[int]{}, layer.Options{})
	release := b.holdChat(1)
	b.send(t, "test:support:1", chat.Send{Text: "in flight"})
	b.send(t, "test:support:1", chat.Send{Text: "queued"})
	b.send(t, "test:support:2", chat.Typing{}) // proof that both were received
	b.next(t)
	b.stop()
	release()
	for _, want := range []string{"in flight", "queued"} {
		if d := b.next(t); d.action.(chat.Send).Text != want {
			t.Fatalf("done %+v, want %q", d, want)
		}
	}
	select {
	case <-b.ran:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestRunCancelsActionsAfterTheGrace(t *testing.T) {
	b := newBench(t, relay.Config[int]{Grace: 10 * time.Millisecond}, layer.Options{})
	b.holdChat(1) // never released
	b.send(t, "test:support:1", chat.Send{Text: "stuck"})
	b.send(t, "test:support:2", chat.Typing{})
	b.next(t)
	b.stop()
	select {
	case <-b.ran:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the grace")
	}
	if logs := b.logs.String(); !strings.Contains(logs, "action from the layer failed") || !strings.Contains(logs, "context canceled") {
		t.Errorf("the cancelled action is not logged:\n%s", logs)
	}
}

func TestRunStopsReceivingWhenPendingIsFull(t *testing.T) {
	// One action pending at most, and room for one message in the channel:
	// with the chat held, one action is performing, one waits in the loop
	// for a slot, one waits in the channel, and then senders are refused.
	b := newBench(t, relay.Config[int]{Pending: 1}, layer.Options{Capacity: 1})
	release := b.holdChat(1)
	m, _ := chat.ActionMessage("test:support:1", chat.Typing{})
	send := func() error { return b.layer.Send(context.Background(), chat.ActionChannel("test", "support"), m) }
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for accepted := 0; accepted < 3; <-tick.C {
		switch err := send(); {
		case err == nil:
			accepted++
		case !errors.Is(err, layer.ErrChannelFull):
			t.Fatal(err)
		case time.Now().After(deadline):
			t.Fatalf("only %d messages accepted", accepted)
		}
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); <-tick.C {
		if err := send(); !errors.Is(err, layer.ErrChannelFull) {
			t.Fatalf("a 4th message: %v, want ErrChannelFull", err)
		}
	}
	release()
	for range 3 {
		b.next(t)
	}
}

func TestRunRefusesABotNameThatCannotNameAChannel(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		relay.Run(context.Background(), relay.Config[int]{Layer: layer.NewMemory(layer.Options{}), Platform: "test", Bot: "sûpport", Log: slog.New(slog.NewTextHandler(logs, nil))})
	}()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if !strings.Contains(logs.String(), "cannot name a layer channel") {
		t.Errorf("logs:\n%s", logs)
	}
}

// links records links, or fails them.
type links struct {
	mu   sync.Mutex
	got  []string
	fail error
}

func (l *links) MessageLink(_ context.Context, hubID string, c store.MessageCopy) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.got = append(l.got, hubID+" "+c.Scope+" "+c.ID)
	return nil
}

func TestLink(t *testing.T) {
	for _, c := range []struct {
		name  string
		id    string
		links *links
		want  []string
		log   string
	}{
		{name: "linked", id: "7", links: &links{}, want: []string{"h1 test:support:1 7"}},
		{name: "link failed", id: "7", links: &links{fail: errors.New("disk full")}, log: "could not link"},
		{name: "id not known", links: &links{}, log: "id is not known yet"},
		{name: "no store", id: "7", log: "no store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs := &syncbuf.Buffer{}
			var l relay.Links
			if c.links != nil {
				l = c.links
			}
			relay.Link(context.Background(), l, slog.New(slog.NewTextHandler(logs, nil)), "test:support:1", "h1", c.id)
			if c.links != nil && strings.Join(c.links.got, ",") != strings.Join(c.want, ",") {
				t.Errorf("links %q, want %q", c.links.got, c.want)
			}
			if !strings.Contains(logs.String(), c.log) || (c.log == "" && logs.String() != "") {
				t.Errorf("logs %q, want %q", logs, c.log)
			}
		})
	}
}

func TestLinksIn(t *testing.T) {
	l := &links{}
	if got := relay.LinksIn(nil, "not a store", l); got != l {
		t.Errorf("LinksIn = %v, want the one that links", got)
	}
	if got := relay.LinksIn(nil); got != nil {
		t.Errorf("LinksIn(nil) = %v, want nil", got)
	}
}
