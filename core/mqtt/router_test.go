package mqtt

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/hubhq/hub/core"
)

func TestTopicMatch(t *testing.T) {
	tests := []struct {
		pattern, topic string
		ok             bool
		params         map[string]string
	}{
		{"sensors/{device}/temperature", "sensors/kitchen/temperature", true, map[string]string{"device": "kitchen"}},
		{"sensors/{device}/temperature", "sensors/kitchen/humidity", false, nil},
		{"sensors/{device}/temperature", "sensors/kitchen", false, nil},
		{"sensors/{device}/temperature", "sensors/a/b/temperature", false, nil},
		{"sensors/{device}/temperature", "sensors//temperature", true, map[string]string{"device": ""}},
		{"sensors/+/temperature", "sensors/x/temperature", true, nil},
		{"sensors/#", "sensors", true, nil},
		{"sensors/#", "sensors/a/b/c", true, nil},
		{"sensors/#", "sensorsx/a", false, nil},
		{"sensors/{rest...}", "sensors/a/b", true, map[string]string{"rest": "a/b"}},
		{"sensors/{rest...}", "sensors", true, map[string]string{"rest": ""}},
		{"{site}/{room}/{kind...}", "hq/lab/air/co2", true, map[string]string{"site": "hq", "room": "lab", "kind": "air/co2"}},
		{"#", "anything/at/all", true, nil},
		{"#", "$SYS/broker/uptime", false, nil},
		{"+/broker/uptime", "$SYS/broker/uptime", false, nil},
		{"$SYS/#", "$SYS/broker/uptime", true, nil},
		{"/leading", "/leading", true, nil},
		{"/leading", "leading", false, nil},
		{"a/b", "a/b/", false, nil},
		{"a/+", "a/", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.topic, func(t *testing.T) {
			params, ok := Topic(tt.pattern, nil).match(tt.topic)
			if ok != tt.ok || !maps.Equal(params, tt.params) {
				t.Fatalf("match = %v, %v; want %v, %v", params, ok, tt.params, tt.ok)
			}
		})
	}
}

func TestParseTopicErrors(t *testing.T) {
	for _, p := range []string{"", "a/#/b", "a/{x...}/b", "a/{}", "a/{...}", "{x}/{x}", "a+/b", "a/#b", "a/{x}y", "a/x{y"} {
		if _, err := ParseTopic(p, nil); err == nil {
			t.Errorf("ParseTopic(%q) = nil error; want one", p)
		}
	}
}

func TestFilters(t *testing.T) {
	r := TopicRouter{
		Topic("sensors/{device}/temperature", nil),
		Topic("sensors/+/temperature", nil), // same filter: listed once
		Topic("cmd/{device}/{rest...}", nil),
		Topic("alerts/#", nil),
		Topic("plain/topic", nil),
	}
	want := []string{"sensors/+/temperature", "cmd/+/#", "alerts/#", "plain/topic"}
	if got := r.Filters(); !slices.Equal(got, want) {
		t.Fatalf("Filters() = %q; want %q", got, want)
	}
}

func TestTopicRouterServe(t *testing.T) {
	hit := func(name string) core.Application {
		return core.AppFunc(func(ctx context.Context, s *core.Scope, _ core.Inbox, send core.SendFunc) error {
			return send(ctx, Publish{Topic: name + ":" + s.Param("device") + ":" + s.Param("site")})
		})
	}
	r := TopicRouter{
		Topic("sensors/{device}/temperature", hit("temp")),
		Topic("sensors/#", hit("any")),
	}
	tests := []struct {
		topic, want string
		err         error
	}{
		{"sensors/k1/temperature", "temp:k1:hq", nil},
		{"sensors/k1/humidity", "any::hq", nil},
		{"other", "", core.ErrNoRoute},
	}
	for _, tt := range tests {
		var got string
		send := func(_ context.Context, ev core.Event) error {
			got = ev.(Publish).Topic
			return nil
		}
		scope := &core.Scope{Type: "mqtt", Path: tt.topic, Params: map[string]string{"site": "hq"}}
		err := r.Serve(context.Background(), scope, nil, send)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.topic, got, err, tt.want, tt.err)
		}
		if len(scope.Params) != 1 {
			t.Errorf("%s: router changed the caller's params: %v", tt.topic, scope.Params)
		}
	}
}

func TestMessagePayload(t *testing.T) {
	m := Message{Topic: "t", Payload: []byte(`{"c":21.5}`)}
	if s, err := m.Text(); err != nil || s != `{"c":21.5}` {
		t.Fatalf("Text() = %q, %v", s, err)
	}
	var v struct{ C float64 }
	if err := m.JSON(&v); err != nil || v.C != 21.5 {
		t.Fatalf("JSON() = %v, %v", v, err)
	}
	bad := Message{Topic: "t", Payload: []byte{0xff, 0xfe}}
	if _, err := bad.Text(); !errors.Is(err, ErrNotUTF8) {
		t.Fatalf("Text() of binary = %v; want ErrNotUTF8", err)
	}
	if err := bad.JSON(&v); err == nil {
		t.Fatal("JSON() of binary = nil error")
	}
	for _, ev := range []core.Event{Message{}, Publish{}, Disconnect{}} {
		if ev.Type()[:5] != "mqtt." {
			t.Errorf("%T.Type() = %q", ev, ev.Type())
		}
	}
}
