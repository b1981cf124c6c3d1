package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestDefault(t *testing.T) {
	c := Default()
	if c.Listen != "127.0.0.1:8080" || c.Store != "./hub.db" || c.Layer.Backend() != LayerMemory {
		t.Errorf("Default() = listen %q store %q layer %q", c.Listen, c.Store, c.Layer)
	}
	if len(c.Routes.WebSocket) != 1 || c.Routes.WebSocket[0].Path != "/ws/chat/{room}/" || c.Routes.WebSocket[0].Consumer != "chatroom" {
		t.Errorf("Default() websocket routes = %+v", c.Routes.WebSocket)
	}
	if len(c.Routes.HTTP) != 1 || c.Routes.HTTP[0] != (HTTPRoute{Path: "/", Handler: "chatroom"}) {
		t.Errorf("Default() http routes = %+v", c.Routes.HTTP)
	}
	if c.Inbox.Size != core.DefaultInboxSize || c.Inbox.Policy != core.Block || c.WebSocket.MaxMessageSize != 1<<20 {
		t.Errorf("Default() inbox %+v websocket %+v", c.Inbox, c.WebSocket)
	}
	if err := c.validate(); err != nil {
		t.Errorf("Default() does not validate: %v", err)
	}
}

func TestParseFull(t *testing.T) {
	src := `
listen: ${HUB_LISTEN:-0.0.0.0:9000}
store: /var/lib/hub/hub.db
layer: none
allowed_origins: [example.com, "https://app.example.com"]
websocket: {max_message_size: 64KiB, ping_interval: 10s, pong_timeout: 20s, handshake_timeout: 3s, close_timeout: 1s}
inbox: {size: 8, policy: drop_oldest}
log: {level: debug, format: json}
bots:
  - {name: support, platform: telegram, token: "${TG_TOKEN}", api_url: "http://127.0.0.1:1234"}
mqtt:
  - {name: home, url: tcp://127.0.0.1:1883, password: "${MQTT_PASS}"}
routes:
  websocket:
    - path: /ws/echo/
      consumer: echo
      options:
        greeting: "${GREETING:-hi}"
        repeat: ${REPEAT:-2}
        literal: $${HOME}
  telegram:
    - {bot: support, consumer: echo}
  mqtt:
    - {broker: home, topic: "sensors/+/temp", consumer: echo}
  channel:
    - {channel: thumbnails, consumer: echo, options: {size: 64}}
`
	c, err := parse("hub.yaml", []byte(src), env(map[string]string{"TG_TOKEN": "123:abc", "MQTT_PASS": "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, "0.0.0.0:9000"},
		{"layer", c.Layer.Backend(), LayerNone},
		{"origins", fmt.Sprint(c.AllowedOrigins), "[example.com https://app.example.com]"},
		{"max size", c.WebSocket.MaxMessageSize, ByteSize(64 << 10)},
		{"ping", c.WebSocket.PingInterval, 10 * time.Second},
		{"inbox", c.Inbox, Inbox{Size: 8, Policy: core.DropOldest}},
		{"log", c.Log, Log{Level: slog.LevelDebug, Format: "json"}},
		{"token", c.Bots[0].Token.Value(), "123:abc"},
		{"password", c.MQTT[0].Password.Value(), "pw"},
		{"routes replace defaults", len(c.Routes.HTTP), 0},
		{"option string", c.Routes.WebSocket[0].Options["greeting"], "hi"},
		{"option number re-resolved", c.Routes.WebSocket[0].Options["repeat"], 2},
		{"mqtt topic", c.Routes.MQTT[0].Topic, "sensors/+/temp"},
		{"literal ${ escaped", c.Routes.WebSocket[0].Options["literal"], "${HOME}"},
		{"line of a key", c.line("routes.websocket[0].consumer"), 16},
		{"channel route", c.Routes.Channel[0].Channel + " " + c.Routes.Channel[0].Consumer, "thumbnails echo"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestPartialKeepsDefaults(t *testing.T) {
	c, err := parse("hub.yaml", []byte("listen: 127.0.0.1:0\ninbox: {policy: close}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Inbox.Size != core.DefaultInboxSize || c.Inbox.Policy != core.CloseScope || len(c.Routes.WebSocket) != 1 || c.Store != "./hub.db" {
		t.Errorf("defaults not kept: %+v", c)
	}
	if _, err := parse("hub.yaml", nil, env(nil)); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

func TestBroken(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // each must appear in the error
	}{
		{"unknown consumer", "routes:\n  websocket:\n    - path: /ws/chat/{room}/\n      consumer: chatrom\n",
			[]string{`hub.yaml:4: routes.websocket[0].consumer: unknown consumer "chatrom" (did you mean "chatroom"?) (known: chatroom, echo)`}},
		{"unknown top key", "listen: 127.0.0.1:1\nlistne: x\n",
			[]string{`hub.yaml:2: listne: unknown key (did you mean "listen"?)`}},
		{"unknown nested key", "inbox:\n  polcy: close\n",
			[]string{`hub.yaml:2: inbox.polcy: unknown key (did you mean "policy"?)`}},
		{"unknown route key", "routes:\n  websocket:\n    - path: /a/\n      consumer: echo\n      consmer: echo\n",
			[]string{`hub.yaml:5: routes.websocket[0].consmer: unknown key`}},
		{"unset env", "\n\nstore: ${HUB_STORE}\n",
			[]string{`hub.yaml:3: store: environment variable HUB_STORE is not set`}},
		{"bad env name", "store: ${1X}\n", []string{`hub.yaml:1: store: invalid environment variable name "1X"`}},
		{"unterminated env", "store: ${X\n", []string{`hub.yaml:1: store: unterminated ${`}},
		{"yaml syntax", "listen: a\n  b: c\n", []string{`hub.yaml:2: mapping values are not allowed`}},
		{"not a mapping", "- a\n- b\n", []string{`hub.yaml:1: want a mapping`}},
		{"bad duration", "websocket:\n  ping_interval: 10\n", []string{`hub.yaml:2: websocket.ping_interval: want a duration`}},
		{"bad size", "websocket:\n  max_message_size: lots\n", []string{`hub.yaml:2: websocket.max_message_size: want a size`}},
		{"bad policy", "inbox:\n  policy: drop\n", []string{`hub.yaml:2: inbox.policy: unknown policy "drop"`}},
		{"bad inbox size", "inbox:\n  size: 0\n", []string{`hub.yaml:2: inbox.size: must be at least 1`}},
		{"inbox size not a number", "inbox:\n  size: many\n", []string{`hub.yaml:2: inbox.size: want a whole number`}},
		{"bad level", "log:\n  level: loud\n", []string{`hub.yaml:2: log.level:`}},
		{"bad format", "log:\n  format: xml\n", []string{`hub.yaml:2: log.format: unknown format "xml"`}},
		{"bad listen", "listen: localhost\n", []string{`hub.yaml:1: listen: want host:port`}},
		{"bad layer", "\nlayer: kafka://x\n", []string{`hub.yaml:2: layer: unknown layer "kafka://x"`}},
		{"list for scalar", "listen: [a, b]\n", []string{`hub.yaml:1: listen: want a single value, got a list`}},
		{"scalar for list", "allowed_origins: example.com\n", []string{`hub.yaml:1: allowed_origins: want a list`}},
		{"duplicate key", "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n", []string{`hub.yaml:2: listen: given twice (first on line 1)`}},
		{"missing consumer", "routes:\n  websocket:\n    - path: /a/\n", []string{`hub.yaml:3: routes.websocket[0]: consumer is required`}},
		{"bad pattern", "routes:\n  websocket:\n    - path: /a/{}/\n      consumer: echo\n", []string{`hub.yaml:3: routes.websocket[0].path: route pattern "/a/{}/": segment "{}" must be a whole {param}`}},
		{"duplicate ws path", "routes:\n  websocket:\n    - {path: /a/, consumer: echo}\n    - {path: /a/, consumer: echo}\n",
			[]string{`hub.yaml:4: routes.websocket[1].path: "/a/" is already used by routes.websocket[0]`}},
		{"unknown handler", "routes:\n  http:\n    - path: /\n      handler: chatrom\n", []string{`hub.yaml:4: routes.http[0].handler: unknown page handler "chatrom"`}},
		{"builtin path", "routes:\n  http:\n    - {path: /metrics, handler: chatroom}\n", []string{`hub.yaml:3: routes.http[0].path: /metrics is served by the hub itself`}},
		{"bot bad platform", "bots:\n  - name: b\n    platform: icq\n    token: x\n", []string{`hub.yaml:3: bots[0].platform: unknown platform "icq"`}},
		{"duplicate bot", "bots:\n  - {name: b, platform: telegram, token: x}\n  - {name: b, platform: discord, token: y}\n", []string{`hub.yaml:3: bots[1].name: "b" is already used by bots[0]`}},
		{"route to unknown bot", "routes:\n  telegram:\n    - bot: nope\n      consumer: echo\n", []string{`hub.yaml:3: routes.telegram[0].bot: no bot named "nope"`}},
		{"route to wrong platform", "bots:\n  - {name: b, platform: discord, token: x}\nroutes:\n  telegram:\n    - {bot: b, consumer: echo}\n",
			[]string{`hub.yaml:5: routes.telegram[0].bot: bot "b" is a discord bot, not telegram`}},
		{"mqtt route unknown broker", "routes:\n  mqtt:\n    - {broker: x, topic: a/b, consumer: echo}\n", []string{`hub.yaml:3: routes.mqtt[0].broker: no broker named "x"`}},
		{"mqtt bad url", "mqtt:\n  - name: m\n    url: http://u:secretpw@h\n", []string{`hub.yaml:3: mqtt[0].url: want a broker URL`}},
		{"layer URL password hidden", "layer: redis//:secretpw@host:6379\n", []string{`hub.yaml:1: layer: unknown layer "redis//[redacted]@host:6379"`}},
		{"several errors at once", "listen: nope\ninbox:\n  size: -1\n", []string{`hub.yaml:1: listen:`, `hub.yaml:3: inbox.size:`}},
		{"anchor on an unknown key", "base: &b {size: 0}\n", []string{`hub.yaml:1: base: unknown key`}},
		{"duplicate http path", "routes:\n  http:\n    - {path: /, handler: chatroom}\n    - {path: /, handler: chatroom}\n",
			[]string{`hub.yaml:4: routes.http[1].path: "/" is already used by routes.http[0]`}},
		{"bad channel name", "routes:\n  channel:\n    - {channel: \"a b\", consumer: echo}\n", []string{`hub.yaml:3: routes.channel[0].channel: want a fixed channel name`}},
		{"process channel name", "routes:\n  channel:\n    - {channel: \"specific.x!y\", consumer: echo}\n", []string{`routes.channel[0].channel: want a fixed channel name`}},
		{"duplicate channel", "routes:\n  channel:\n    - {channel: a, consumer: echo}\n    - {channel: a, consumer: echo}\n",
			[]string{`hub.yaml:4: routes.channel[1].channel: "a" is already used by routes.channel[0]`}},
		{"channel unknown consumer", "routes:\n  channel:\n    - {channel: a, consumer: ehco}\n", []string{`hub.yaml:3: routes.channel[0].consumer: unknown consumer "ehco"`}},
		{"two routes for one bot", "bots:\n  - {name: b, platform: telegram, token: x}\nroutes:\n  telegram:\n    - {bot: b, consumer: echo}\n    - {bot: b, consumer: echo}\n",
			[]string{`hub.yaml:6: routes.telegram[1].bot: "b" is already used by routes.telegram[0]`}},
		{"two routes for every bot", "routes:\n  telegram:\n    - {consumer: echo}\n    - {consumer: echo}\n",
			[]string{`hub.yaml:4: routes.telegram[1]: a second route for every bot`}},
		{"bad bot mode", "bots:\n  - {name: b, platform: telegram, token: x, mode: push}\n", []string{`hub.yaml:2: bots[0].mode: unknown mode "push"`}},
		{"webhook secret when polling", "bots:\n  - {name: b, platform: telegram, token: x, webhook_secret: s}\n", []string{`bots[0].mode: webhook_url and webhook_secret need mode: webhook`}},
		{"pong before ping", "websocket:\n  ping_interval: 30s\n  pong_timeout: 10s\n", []string{`hub.yaml:3: websocket.pong_timeout: 10s must be longer than ping_interval (30s)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("hub.yaml", []byte(tt.src), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %v\nlacks\n  %s", err, w)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a *config.Error", err)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error leaks a password: %v", err)
			}
		})
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	src := `
routes:
  websocket:
    - &chat
      path: /a/{room}/
      consumer: echo
      options: {history: 5}
    - <<: *chat
      path: /b/{room}/
`
	c, err := parse("hub.yaml", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ws := c.Routes.WebSocket
	if len(ws) != 2 || ws[1].Path != "/b/{room}/" || ws[1].Consumer != "echo" || ws[1].Options["history"] != 5 {
		t.Errorf("merged route = %+v", ws)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	c, err := parse("hub.yaml", []byte("bots:\n  - {name: b, platform: telegram, token: \"123:topsecret\"}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	tok := c.Bots[0].Token
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("bot", "token", tok, "bot", c.Bots[0])
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q %x %d", tok, c.Bots[0], c.Bots[0], tok, tok, tok, tok), logged.String()} {
		if strings.Contains(s, "topsecret") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestExpand(t *testing.T) {
	lookup := env(map[string]string{"A": "x", "EMPTY": ""})
	tests := []struct{ in, want, err string }{
		{"plain $ stays", "plain $ stays", ""},
		{"${A}", "x", ""},
		{"a${A}b${A}", "axbx", ""},
		{"${B:-dflt}", "dflt", ""},
		{"${EMPTY:-dflt}", "dflt", ""},
		{"${EMPTY}", "", ""},
		{"${B:-}", "", ""},
		{"$${A}", "${A}", ""},
		{"${B}", "", "B is not set"},
		{"${A", "", "unterminated"},
		{"${}", "", "invalid"},
	}
	for _, tt := range tests {
		got, err := expand(tt.in, lookup)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expand(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(path, []byte("store: data/hub.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "data/hub.db"); c.Store != want {
		t.Errorf("Store = %q, want %q (relative to the config file)", c.Store, want)
	}
	if c.File() != path {
		t.Errorf("File() = %q", c.File())
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestErrorf(t *testing.T) {
	c, err := parse("x.yaml", []byte("routes:\n  websocket:\n    - path: /a/\n      consumer: echo\n      options: {n: 1}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Errorf("routes.websocket[0].options.n", "bad").Error()
	if want := "x.yaml:5: routes.websocket[0].options.n: bad"; got != want {
		t.Errorf("Errorf = %q, want %q", got, want)
	}
}

func TestTelegramLimits(t *testing.T) {
	// The defaults are the adapter's own (adapters/telegram Limits): Telegram's
	// published limits.
	if got, want := Default().Telegram.Limits, (TelegramLimits{Bot: 30, Chat: 1, Group: 20.0 / 60, Burst: 3}); got != want {
		t.Errorf("default limits = %+v, want %+v", got, want)
	}
	c, err := parse("hub.yaml", []byte("telegram:\n  limits: {bot: 1000, chat: 0.5/s, burst: 100}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Telegram.Limits, (TelegramLimits{Bot: 1000, Chat: 0.5, Group: 20.0 / 60, Burst: 100}); got != want {
		t.Errorf("limits = %+v, want %+v (unset keys keep their defaults)", got, want)
	}
	c, err = parse("hub.yaml", []byte("telegram: {limits: {group: 90/m, chat: \"${CHAT_RATE}\"}}\n"), env(map[string]string{"CHAT_RATE": "2"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Telegram.Limits.Group != 1.5 || c.Telegram.Limits.Chat != 2 {
		t.Errorf("limits = %+v, want group 1.5, chat 2", c.Telegram.Limits)
	}

	broken := []struct{ name, src, want string }{
		{"zero bot", "telegram:\n  limits:\n    bot: 0\n", `hub.yaml:3: telegram.limits.bot: must be positive`},
		{"negative chat", "telegram:\n  limits:\n    chat: -1\n", `hub.yaml:3: telegram.limits.chat: must be positive`},
		{"zero group per minute", "telegram:\n  limits:\n    group: 0/m\n", `hub.yaml:3: telegram.limits.group: must be positive`},
		{"not a rate", "telegram:\n  limits:\n    bot: fast\n", `hub.yaml:3: telegram.limits.bot: want a rate such as 30 (per second), 30/s or 20/m, got "fast"`},
		{"bad unit", "telegram:\n  limits:\n    chat: 5/h\n", `hub.yaml:3: telegram.limits.chat: want a rate`},
		{"infinite", "telegram:\n  limits:\n    bot: inf\n", `hub.yaml:3: telegram.limits.bot: want a rate`},
		{"not a number", "telegram:\n  limits:\n    group: NaN\n", `hub.yaml:3: telegram.limits.group: want a rate`},
		{"zero burst", "telegram:\n  limits:\n    burst: 0\n", `hub.yaml:3: telegram.limits.burst: must be at least 1, got 0`},
		{"fractional burst", "telegram:\n  limits:\n    burst: 1.5\n", `hub.yaml:3: telegram.limits.burst: want a whole number`},
		{"unknown limit", "telegram:\n  limits:\n    bots: 10\n", `hub.yaml:3: telegram.limits.bots: unknown key (did you mean "bot"?)`},
		{"limits not a mapping", "telegram:\n  limits: 30\n", `hub.yaml:2: telegram.limits: want a mapping`},
	}
	for _, tt := range broken {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("hub.yaml", []byte(tt.src), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error\n  %v\nlacks\n  %s", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a *config.Error", err)
			}
		})
	}
}
