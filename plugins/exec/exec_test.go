package exec_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/hubtest"
	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/internal/servertest"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/plugins/exec"
)

// wait is how long tests wait for a process: interpreters start in tens of
// milliseconds, but a loaded CI machine under -race is slower.
const wait = 10 * time.Second

// python is the system's interpreter when there is one: a version
// manager's shim in front of it (pyenv's) can take seconds to start.
var python = func() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}()

// echoBots are the examples, as the hub would run them.
var echoBots = []struct{ name, bin, script string }{
	{"python", python, "../../examples/plugins/python/echo.py"},
	{"node", "node", "../../examples/plugins/node/echo.js"},
}

// start makes a plugin for the test, logging to t, closed by t.Cleanup
// after the conversations made later (cleanups run last-in first-out).
func start(t *testing.T, cfg exec.Config) (*exec.Plugin, *logs) {
	t.Helper()
	servertest.Need(t, cfg.Command[0]) // a missing interpreter skips, or fails in CI
	l := &logs{t: t}
	t.Cleanup(func() { l.done.Store(true) })
	cfg.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.Restart == (exec.Backoff{}) {
		cfg.Restart = exec.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	}
	p, err := exec.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, l
}

func testbot(args ...string) []string {
	return append([]string{python, "testdata/testbot.py"}, args...)
}

// logs keeps what the plugin logged and shows it in the test's output.
type logs struct {
	t    *testing.T
	done atomic.Bool
	mu   sync.Mutex
	text strings.Builder
}

func (l *logs) Write(b []byte) (int, error) {
	l.mu.Lock()
	l.text.Write(b)
	l.mu.Unlock()
	if !l.done.Load() {
		l.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (l *logs) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.text.String(), s)
}

func TestEchoExamples(t *testing.T) {
	for _, bot := range echoBots {
		t.Run(bot.name, func(t *testing.T) {
			t.Parallel()
			p, _ := start(t, exec.Config{Name: "echo-" + bot.name, Command: []string{bot.bin, bot.script}})
			hub := hubtest.NewHub(t, hubtest.Timeout(wait))
			conv := hub.Chat(p, hubtest.Key("telegram:echo:42"))
			hello := conv.Say("hello")
			conv.Expect("[Welcome Anonymous!]")
			if got := conv.ReceiveSend(); got.Text != "You said: hello" || got.ReplyTo != hello.ID {
				t.Fatalf("got %+v, want a reply to %s", got, hello.ID)
			}
			conv.Say("/start")
			conv.Say("/nope")
			conv.Say("/name")
			conv.Say("/name Ada")
			conv.Say("again")
			conv.Expect(
				"I repeat what you say. /name NAME tells me who you are.",
				"Unknown command /nope. Commands: /name, /start.",
				"Usage: /name NAME",
				"[set your username to Ada]",
				"Ada: You said: again",
			)

			// The name is in the hub's store, so it outlives the scope; another
			// conversation, served by the same process, has its own.
			conv.Disconnect("idle")
			again := hub.Chat(p, hubtest.Key("telegram:echo:42"))
			again.Expect("[Welcome Ada!]")
			other := hub.Chat(p, hubtest.Key("telegram:echo:43"))
			other.Say("hi")
			other.Expect("[Welcome Anonymous!]", "You said: hi")
			if s := p.Stats(); s.Starts != 1 || s.InvalidLines != 0 || s.Timeouts != 0 {
				t.Fatalf("stats %+v, want one start and nothing wrong", s)
			}
		})
	}
}

func TestKilledPluginIsRestarted(t *testing.T) {
	for _, bot := range echoBots {
		t.Run(bot.name, func(t *testing.T) {
			t.Parallel()
			p, _ := start(t, exec.Config{Name: "echo", Command: []string{bot.bin, bot.script}})
			conv := hubtest.Chat(t, p, hubtest.Timeout(wait))
			conv.Say("/name Ada")
			conv.Expect("[Welcome Anonymous!]", "[set your username to Ada]")

			pid := p.PID()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			poll.Until(t, wait, "restarted", func() bool { return p.PID() != 0 && p.PID() != pid })

			// The new process learns of the open conversation (scope.connect
			// with resumed: true, so no second greeting) and answers.
			conv.Say("still there?")
			conv.Expect("Ada: You said: still there?")
			if s := p.Stats(); s.Restarts != 1 || s.Starts != 2 {
				t.Fatalf("stats %+v, want one restart", s)
			}
		})
	}
}

func TestCrashWhileEventsQueueUp(t *testing.T) {
	p, l := start(t, exec.Config{Name: "testbot", Command: testbot(),
		Restart: exec.Backoff{Min: 200 * time.Millisecond, Max: time.Second}})
	conv := hubtest.Chat(t, p, hubtest.Timeout(wait))
	conv.Say("/crash")
	// Said while the plugin is down: these wait in the inbox for the
	// restart, in order.
	for i := range 5 {
		conv.Say(fmt.Sprint(i))
	}
	conv.Expect("got 0", "got 1", "got 2", "got 3", "got 4")
	if s := p.Stats(); s.Lost != 1 || s.Restarts != 1 {
		t.Fatalf("stats %+v, want the /crash event lost and one restart", s)
	}
	if !l.contains("exit status 3") {
		t.Fatal("the exit status was not logged")
	}
}

func TestEventsOfAScopeArriveInOrder(t *testing.T) {
	p, _ := start(t, exec.Config{Name: "testbot", Command: testbot()})
	hub := hubtest.NewHub(t, hubtest.Timeout(wait))
	const scopes, n = 4, 50
	convs := make([]*hubtest.ChatCommunicator, scopes)
	for s := range convs {
		convs[s] = hub.Chat(p)
	}
	// The scopes run at once, so their events interleave on the plugin's
	// stdin; each scope's must still arrive in order.
	for i := range n {
		for s, conv := range convs {
			conv.Say(fmt.Sprintf("%d.%d", s, i))
		}
	}
	// The bot says "OUT OF ORDER" if it saw a scope's events (by seq or by
	// message id) out of order; its replies come back in order too.
	for s, conv := range convs {
		for i := range n {
			conv.Expect(fmt.Sprintf("got %d.%d", s, i))
		}
	}
}

func TestActionOfOneScopeNeverBlocksAnother(t *testing.T) {
	p, _ := start(t, exec.Config{Name: "echo", Command: []string{python, echoBots[0].script}})
	rt := &core.Runtime{App: p, Store: hubtest.NewHub(t).Store, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Scope A's adapter never finishes a send (a rate-limited chat, say).
	blocked := make(chan struct{})
	a, err := rt.Start(ctx, &core.Scope{Type: "chat", Key: "chat:a"}, func(ctx context.Context, ev core.Event) error {
		close(blocked)
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocked:
	case <-time.After(wait):
		t.Fatal("scope A never sent its greeting")
	}
	sent := make(chan string, 4)
	b, err := rt.Start(ctx, &core.Scope{Type: "chat", Key: "chat:b"}, func(ctx context.Context, ev core.Event) error {
		sent <- ev.(chat.Send).Text
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Deliver(ctx, &chat.Message{ID: "1", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[Welcome Anonymous!]", "You said: hi"} {
		select {
		case got := <-sent:
			if got != want {
				t.Fatalf("B got %q, want %q", got, want)
			}
		case <-time.After(wait):
			t.Fatalf("B is blocked by A: no %q", want)
		}
	}
	cancel()
	<-a.Done()
	<-b.Done()
}

func TestLayerStateAndResults(t *testing.T) {
	p, _ := start(t, exec.Config{Name: "testbot", Command: testbot()})
	hub := hubtest.NewHub(t, hubtest.Timeout(wait))
	a, b := hub.Chat(p), hub.Chat(p)
	a.Say("/join")
	b.Say("/join")
	// Actions are performed in order, so "joined" means in the group.
	a.Expect("joined")
	b.Expect("joined")
	a.Say("/shout hi all")
	a.Expect("heard hi all")
	b.Expect("heard hi all")

	a.Say("/sendid")
	a.Expect("first", "sent as sent-1")
	a.Say("/state")
	a.Expect(`value {"a": [1, 2]}`)
}

func TestGarbageIsSkipped(t *testing.T) {
	p, l := start(t, exec.Config{Name: "testbot", Command: testbot("--garbage")})
	conv := hubtest.Chat(t, p, hubtest.Timeout(wait))
	conv.Say("/garbage")
	conv.Say("/stderr")
	conv.Say("after")
	conv.Expect("still here", "logged", "got after")
	s := p.Stats()
	// Before hello: 2. On /garbage: "}{", "[1, 2", the long line, the
	// unknown type, and the action without a known type.
	if s.InvalidLines < 6 || s.Dropped != 1 || s.Restarts != 0 {
		t.Fatalf("stats %+v, want ≥ 6 invalid lines, 1 dropped action, no restart", s)
	}
	for _, want := range []string{"plugin=testbot", "hello from stderr", "unknown action", "no-such-scope"} {
		if !l.contains(want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestUnacknowledgedEventTimesOut(t *testing.T) {
	p, l := start(t, exec.Config{Name: "testbot", Command: testbot(), EventTimeout: 100 * time.Millisecond})
	conv := hubtest.Chat(t, p, hubtest.Timeout(wait))
	conv.Say("/noack")
	conv.Say("next")
	conv.Expect("got next")
	if s := p.Stats(); s.Timeouts != 1 {
		t.Fatalf("stats %+v, want one timeout", s)
	}
	if !l.contains("not acknowledged in time") {
		t.Fatal("the timeout was not logged")
	}
}

func TestHandshakeMismatch(t *testing.T) {
	p, _ := start(t, exec.Config{Name: "future", Command: testbot("--protocol", "2")})
	err := p.Start(context.Background())
	if !errors.Is(err, exec.ErrProtocol) || !strings.Contains(err.Error(), "plugin future speaks protocol 2, the hub speaks 1") {
		t.Fatalf("Start: %v, want a clear protocol mismatch", err)
	}
	// Every scope of the plugin ends with it; nothing is restarted.
	conv := hubtest.Chat(t, p, hubtest.Timeout(wait))
	if err := conv.Wait(); !errors.Is(err, exec.ErrProtocol) {
		t.Fatalf("scope ended with %v", err)
	}
	if s := p.Stats(); s.Restarts != 0 {
		t.Fatalf("stats %+v: restarted after a mismatch", s)
	}
}

func TestMissingCommandFailsStart(t *testing.T) {
	p, err := exec.New(exec.Config{Name: "nope", Command: []string{"./testdata/no-such-plugin"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "no-such-plugin") {
		t.Fatalf("Start: %v, want the start error", err)
	}
}

func TestFactory(t *testing.T) {
	servertest.Need(t, python)
	app, err := plugins.New("exec", plugins.Options{"name": "echo-py", "command": []any{python, echoBots[0].script},
		"event_timeout": "5s", "restart": map[string]any{"min": 0.05, "max": "2s"}, "env": map[string]any{"X": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.(*exec.Plugin).Close() })
	conv := hubtest.Chat(t, app, hubtest.Timeout(wait))
	conv.Say("hi")
	conv.Expect("[Welcome Anonymous!]", "You said: hi")

	for _, bad := range []plugins.Options{
		{},
		{"command": []any{"x"}, "comand": 1},
		{"command": []any{"x"}, "event_timeout": "soon"},
		{"command": []any{"x"}, "restart": map[string]any{"min": "2s", "max": "1s"}},
	} {
		if _, err := plugins.New("exec", bad); err == nil {
			t.Errorf("options %v accepted", bad)
		}
	}
}
