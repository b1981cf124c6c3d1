package plugins_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins"
)

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
	plugins.Register("test-plain", nop)
	app, err := plugins.New("test-plain", nil)
	if err != nil || app == nil {
		t.Fatalf("New = %v, %v", app, err)
	}
	if _, err := plugins.New("test-plain", plugins.Options{"threshold": 3}); err == nil ||
		!strings.Contains(err.Error(), `plugins: test-plain: takes no options (got threshold)`) {
		t.Fatalf("New with options = %v", err)
	}
	if !slices.Contains(plugins.Names(), "test-plain") {
		t.Fatalf("Names() = %v", plugins.Names())
	}
}

func TestUnknownNameListsKnown(t *testing.T) {
	plugins.Register("test-known", nop)
	_, err := plugins.New("test-knwon", nil)
	if err == nil || !strings.Contains(err.Error(), `unknown consumer "test-knwon" (known: `) || !strings.Contains(err.Error(), "test-known") {
		t.Fatalf("err = %v", err)
	}
}

func TestFactoryOptions(t *testing.T) {
	type cfg struct {
		Threshold int    `json:"threshold"`
		Topic     string `json:"topic"`
	}
	var got cfg
	plugins.RegisterFactory("test-alerts", func(opts plugins.Options) (core.Application, error) {
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
		{"typo", plugins.Options{"treshold": 30}, cfg{}, `plugins: test-alerts: plugins: options: json: unknown field "treshold"`},
		{"wrong type", plugins.Options{"threshold": "high"}, cfg{}, "cannot unmarshal string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plugins.New("test-alerts", tt.opts)
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
	plugins.Register("test-dup", nop)
	plugins.RegisterHandler("test-dup", http.NotFoundHandler()) // pages are another name space
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"duplicate", func() { plugins.Register("test-dup", nop) }, `consumer "test-dup" registered twice`},
		{"duplicate factory", func() { plugins.RegisterFactory("test-dup", nil) }, "nil factory"},
		{"duplicate handler", func() { plugins.RegisterHandler("test-dup", http.NotFoundHandler()) }, `handler "test-dup" registered twice`},
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
	plugins.RegisterHandler("test-page", h)
	if got, ok := plugins.Handler("test-page"); !ok || got == nil {
		t.Fatal("registered handler not found")
	}
	if _, ok := plugins.Handler("test-nopage"); ok {
		t.Fatal("found an unregistered handler")
	}
	if !slices.Contains(plugins.HandlerNames(), "test-page") {
		t.Fatalf("HandlerNames() = %v", plugins.HandlerNames())
	}
}
