package plugins_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins"
)

// unique makes a fresh plugin name, so the tests can run again in the same
// process (go test -count=N) against the global registry.
func unique(name string) string { return fmt.Sprintf("%s-%d", name, seq.Add(1)) }

var seq atomic.Int64

var nop = core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error { return nil })

// mustPanic runs fn and returns its panic message, failing if it did not panic.
func mustPanic(t *testing.T, fn func()) (msg string) {
	t.Helper()
	defer func() {
		p := recover()
		if p == nil {
			t.Fatal("did not panic")
		}
		msg, _ = p.(string)
	}()
	fn()
	return ""
}

func TestRegisterAndNew(t *testing.T) {
	name := unique("test-plain")
	plugins.Register(name, nop)
	app, err := plugins.New(name, nil)
	if err != nil || app == nil {
		t.Fatalf("New = %v, %v", app, err)
	}
	if _, err := plugins.New(name, plugins.Options{"threshold": 3}); err == nil ||
		!strings.Contains(err.Error(), "plugins: "+name+": takes no options (got threshold)") {
		t.Fatalf("New with options = %v", err)
	}
	if !slices.Contains(plugins.Names(), name) {
		t.Fatalf("Names() = %v", plugins.Names())
	}
}

func TestUnknownNameListsKnown(t *testing.T) {
	name := unique("test-known")
	plugins.Register(name, nop)
	_, err := plugins.New("test-knwon", nil)
	if err == nil || !strings.Contains(err.Error(), `unknown consumer "test-knwon" (known: `) || !strings.Contains(err.Error(), name) {
		t.Fatalf("err = %v", err)
	}
}

func TestFactoryOptions(t *testing.T) {
	type cfg struct {
		Threshold int    `json:"threshold"`
		Topic     string `json:"topic"`
	}
	var got cfg
	name := unique("test-alerts")
	plugins.RegisterFactory(name, func(opts plugins.Options) (core.Application, error) {
		got = cfg{}
		if err := opts.Decode(&got); err != nil {
			return nil, err
		}
		return nop, nil
	})
	tests := []struct {
		name string
		opts plugins.Options
		want cfg
		err  string
	}{
		{"none", nil, cfg{}, ""},
		{"set", plugins.Options{"threshold": 30, "topic": "t/#"}, cfg{30, "t/#"}, ""},
		{"typo", plugins.Options{"treshold": 30}, cfg{}, `plugins: options: json: unknown field "treshold"`},
		{"wrong type", plugins.Options{"threshold": "high"}, cfg{}, "cannot unmarshal string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plugins.New(name, tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestRegistrationMistakesPanic(t *testing.T) {
	dup := unique("test-dup")
	plugins.Register(dup, nop)
	plugins.RegisterHandler(dup, http.NotFoundHandler()) // pages are another name space
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"duplicate", func() { plugins.Register(dup, nop) }, fmt.Sprintf("consumer %q registered twice", dup)},
		{"nil factory", func() { plugins.RegisterFactory(unique("test-nilf"), nil) }, "nil factory"},
		{"duplicate handler", func() { plugins.RegisterHandler(dup, http.NotFoundHandler()) }, fmt.Sprintf("handler %q registered twice", dup)},
		{"bad name", func() { plugins.Register("Bad Name", nop) }, `bad plugin name "Bad Name"`},
		{"empty name", func() { plugins.RegisterHandler("", http.NotFoundHandler()) }, `bad plugin name ""`},
		{"nil app", func() { plugins.Register("test-nil", nil) }, "nil application"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg := mustPanic(t, tt.fn); !strings.Contains(msg, tt.want) {
				t.Fatalf("panic %q, want %q", msg, tt.want)
			}
		})
	}
}

func TestHandlers(t *testing.T) {
	h := http.NotFoundHandler()
	name := unique("test-page")
	plugins.RegisterHandler(name, h)
	if got, ok := plugins.Handler(name); !ok || got == nil {
		t.Fatal("registered handler not found")
	}
	if _, ok := plugins.Handler("test-nopage"); ok {
		t.Fatal("found an unregistered handler")
	}
	if !slices.Contains(plugins.HandlerNames(), name) {
		t.Fatalf("HandlerNames() = %v", plugins.HandlerNames())
	}
}
