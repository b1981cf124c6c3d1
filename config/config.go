package config

import (
	_ "embed"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hubhq/hub/core"
)

// Config is the whole hub configuration. Its zero value is not useful: start
// from Default, Load or Parse.
type Config struct {
	// Listen is the HTTP and WebSocket address; port 0 picks a free port.
	Listen string `yaml:"listen"`
	// Store is the SQLite file. Load makes a relative path relative to the
	// config file, so a config means the same from any working directory.
	Store string `yaml:"store"`
	// Layer is the channel layer: memory, none, Redis or NATS.
	Layer Layer `yaml:"layer"`
	// AllowedOrigins are the origins whose pages may open WebSockets (see
	// core/websocket.OriginValidator); empty means the hub's own host only.
	AllowedOrigins []string  `yaml:"allowed_origins"`
	WebSocket      WebSocket `yaml:"websocket"`
	Inbox          Inbox     `yaml:"inbox"`
	Log            Log       `yaml:"log"`
	Routes         Routes    `yaml:"routes"`
	// Bots are the chat platform accounts the hub runs.
	Bots     []Bot    `yaml:"bots"`
	Telegram Telegram `yaml:"telegram"`
	// MQTT are the brokers the hub connects to.
	MQTT []Broker `yaml:"mqtt"`
	// MQTTBroker is the MQTT broker the hub runs itself (off by default).
	MQTTBroker EmbeddedBroker `yaml:"mqtt_broker"`

	file  string         // as the user named it, for error messages
	lines map[string]int // key path → line, for error messages
}

// WebSocket tunes the WebSocket adapter.
type WebSocket struct {
	MaxMessageSize   ByteSize      `yaml:"max_message_size"`
	PingInterval     time.Duration `yaml:"ping_interval"`
	PongTimeout      time.Duration `yaml:"pong_timeout"`
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	CloseTimeout     time.Duration `yaml:"close_timeout"`
	WriteQueue       int           `yaml:"write_queue"`
	WriteTimeout     time.Duration `yaml:"write_timeout"`
}

// Inbox sizes every scope instance's inbox and says what happens when it is full.
type Inbox struct {
	Size   int              `yaml:"size"`
	Policy core.InboxPolicy `yaml:"policy"` // block, drop_oldest or close
}

// Log configures log/slog.
type Log struct {
	Level  slog.Level `yaml:"level"`  // debug, info, warn, error
	Format string     `yaml:"format"` // text or json
}

// Routes say which consumer serves which traffic. Every list names consumers
// (or, for http, page handlers) registered by plugins.
type Routes struct {
	WebSocket []WebSocketRoute `yaml:"websocket"`
	HTTP      []HTTPRoute      `yaml:"http"`
	Telegram  []ChatRoute      `yaml:"telegram"`
	Discord   []ChatRoute      `yaml:"discord"`
	MQTT      []MQTTRoute      `yaml:"mqtt"`
	// Channel routes are served by `hub worker`, not by `hub run`.
	Channel []ChannelRoute `yaml:"channel"`
}

// ChannelRoute sends the messages of a fixed channel-layer name
// ("thumbnails") to Consumer, run by `hub worker`: what Channels'
// ChannelNameRouter and runworker do.
type ChannelRoute struct {
	Channel  string         `yaml:"channel"`
	Consumer string         `yaml:"consumer"`
	Options  map[string]any `yaml:"options"`
}

// WebSocketRoute sends sockets whose path matches Path (core.URLRouter syntax,
// "/ws/chat/{room}/") to Consumer, built with Options.
type WebSocketRoute struct {
	Path     string         `yaml:"path"`
	Consumer string         `yaml:"consumer"`
	Options  map[string]any `yaml:"options"`
}

// HTTPRoute serves Path (net/http.ServeMux syntax) with a plugin's page handler.
type HTTPRoute struct {
	Path    string `yaml:"path"`
	Handler string `yaml:"handler"`
}

// ChatRoute sends the conversations of one bot to Consumer; a route
// without Bot serves every bot of its platform that has no route of its own.
type ChatRoute struct {
	Bot      string         `yaml:"bot"`
	Consumer string         `yaml:"consumer"`
	Options  map[string]any `yaml:"options"`
}

// MQTTRoute sends messages on Topic (with + and # wildcards, or {name}
// captures) of one broker to Consumer.
type MQTTRoute struct {
	Broker   string         `yaml:"broker"`
	Topic    string         `yaml:"topic"`
	Consumer string         `yaml:"consumer"`
	Options  map[string]any `yaml:"options"`
}

// Bot is one chat platform account, on Telegram or Discord.
//
//	bots:
//	  - name: support
//	    platform: telegram
//	    token: ${SUPPORT_BOT_TOKEN}
//	    mode: webhook                          # default polling
//	    webhook_url: https://hub.example/telegram/support
//	    webhook_secret: ${SUPPORT_HOOK_SECRET}
type Bot struct {
	Name     string `yaml:"name"`
	Platform string `yaml:"platform"` // telegram or discord
	Token    Secret `yaml:"token"`
	APIURL   string `yaml:"api_url"` // another API server, such as a test fake
	// Mode is polling (the default) or webhook: Telegram posts updates to
	// the hub at /telegram/<name>.
	Mode string `yaml:"mode"`
	// WebhookURL is the public URL that reaches /telegram/<name>; if set, the
	// hub registers it with Telegram when it starts.
	WebhookURL string `yaml:"webhook_url"`
	// WebhookSecret must come with every webhook request.
	WebhookSecret Secret         `yaml:"webhook_secret"`
	Options       map[string]any `yaml:"options"`
}

// Telegram tunes the Telegram adapter, for all bots.
type Telegram struct {
	// IdleTimeout closes a chat's scope after this long without an update.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// PollTimeout is how long one getUpdates long poll waits.
	PollTimeout time.Duration `yaml:"poll_timeout"`
	// Limits pace each bot's outgoing calls.
	Limits TelegramLimits `yaml:"limits"`
}

// WebhookPath is where the hub serves the webhook of the bot named name.
func WebhookPath(name string) string { return "/telegram/" + name }

//go:embed default.yaml
var defaultYAML []byte

// DefaultFile is the file name errors and File give for the embedded defaults.
const DefaultFile = "(built-in defaults)"

// Default returns the embedded defaults: the bundled chat room on
// 127.0.0.1:8080 with an in-memory layer and ./hub.db. It is what `hub run`
// serves without a config file. The defaults are not validated against the
// plugin registry, so a binary built without the bundled plugins reports the
// missing consumer when the server is built.
func Default() *Config {
	c, err := decode(DefaultFile, defaultYAML, nil, os.LookupEnv)
	if err != nil {
		panic(fmt.Sprintf("config: embedded defaults are broken: %v", err))
	}
	return c
}

// Load reads, expands and validates the config file at path. Its errors
// name file:line: key.path (see Error); several are joined into one.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	// Files the config names mean the same from any working directory.
	dir := filepath.Dir(path)
	for _, p := range c.paths() {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return c, nil
}

// Parse decodes a config read from file (the name is used in errors only)
// over the defaults, expands ${ENV} from the process environment and
// validates the result.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data, os.LookupEnv)
}

func parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	c, err := decode(file, data, Default(), lookup)
	if err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// paths are the config's file names, which Load makes relative to the
// config file.
func (c *Config) paths() []*string {
	ps := []*string{&c.Store, &c.MQTTBroker.DataDir}
	for i := range c.MQTT {
		b := &c.MQTT[i]
		ps = append(ps, &b.CAFile, &b.CertFile, &b.KeyFile, &b.StoreDir)
	}
	return ps
}

// File is the name of the file the config was read from (DefaultFile for
// the embedded defaults).
func (c *Config) File() string { return c.file }

// Errorf makes an Error at the line of the key path ("routes.websocket[0]"),
// for callers that find a problem with a value the config accepted, such as
// a plugin refusing its options.
func (c *Config) Errorf(path, format string, args ...any) error {
	return &Error{File: c.file, Line: c.line(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// line finds the line of path, or of its nearest parent that has one.
func (c *Config) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if l, ok := c.lines[p]; ok {
			return l
		}
	}
	return 0
}
