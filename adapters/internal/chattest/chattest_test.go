package chattest

import (
	"context"
	"fmt"
	"log"
	"runtime"
	"strings"
	"testing"

	"github.com/hubhq/hub/core"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// failures runs check against a recorder and returns how it failed.
func failures(check func(testing.TB)) []string {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r.failures
}

func TestAssertNoTokens(t *testing.T) {
	tok := Token{Bot: "a", Value: "111111:AAH-secret", Skip: 7}
	for _, tt := range []struct {
		logs  string
		fails int
	}{
		{"level=INFO msg=started bot=a", 0},
		{"bot id 111111: public", 0},
		{"url=/bot111111:AAH-secret/getMe", 1},
		{"token=AAH-secret", 1}, // its head cut off
	} {
		if got := failures(func(tb testing.TB) { AssertNoTokens(tb, tt.logs, tok) }); len(got) != tt.fails {
			t.Errorf("logs %q: failures %q, want %d", tt.logs, got, tt.fails)
		}
	}
}

func TestAssertDropped(t *testing.T) {
	drop := func(level, bot string) string {
		return fmt.Sprintf("level=%s msg=\"action message dropped\" bot=%s\n", level, bot)
	}
	two := drop("WARN", "support") + "level=INFO msg=sent\n" + drop("WARN", "support")
	for _, tt := range []struct {
		name  string
		logs  string
		want  int
		fails int
	}{
		{"as many", two, 2, 0},
		{"fewer", two, 3, 1},
		{"not a warning", drop("INFO", "support"), 1, 1},
		{"another bot", drop("WARN", "other"), 1, 1},
	} {
		if got := failures(func(tb testing.TB) { AssertDropped(tb, tt.logs, "support", tt.want) }); len(got) != tt.fails {
			t.Errorf("%s: failures %q, want %d", tt.name, got, tt.fails)
		}
	}
}

func TestAssertTexts(t *testing.T) {
	if got := failures(func(tb testing.TB) { AssertTexts(tb, []string{"a", "b"}, "a", "b") }); len(got) != 0 {
		t.Errorf("same texts: %q", got)
	}
	for _, want := range [][]string{{"a"}, {"b", "a"}, {"a|b"}} {
		if got := failures(func(tb testing.TB) { AssertTexts(tb, []string{"a", "b"}, want...) }); len(got) != 1 {
			t.Errorf("want %q: failures %q", want, got)
		}
	}
}

// logging is an adapter that logs to its runtime's logger and to the
// standard logger, and runs until its context ends.
type logging struct{ rt *core.Runtime }

func (l logging) Run(ctx context.Context) error {
	l.rt.Logger.Info("running")
	log.Print("from a client library")
	<-ctx.Done()
	return nil
}

func TestStart(t *testing.T) {
	tmpl := &core.Runtime{InboxSize: 3, Policy: core.DropOldest}
	h := Start(t, Config{Runtime: tmpl}, func(rt *core.Runtime) (logging, error) { return logging{rt}, nil })
	if h.Runtime.InboxSize != 3 || h.Runtime.Policy != tmpl.Policy || h.Runtime.Metrics == nil {
		t.Fatalf("runtime %+v, want the template's inbox settings and metrics", h.Runtime)
	}
	Eventually(t, "both loggers wrote", func() bool {
		logs := h.Logs.String()
		return strings.Contains(logs, "msg=running") && strings.Contains(logs, "from a client library")
	})
	h.Shutdown(t)
	h.Shutdown(t) // again, as the test's cleanup does
}
