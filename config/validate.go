package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
)

// Reserved HTTP paths the server serves itself.
var builtinPaths = []string{"/healthz", "/metrics"}

// validator collects every problem, so one run of `hub run` shows them all.
type validator struct {
	c    *Config
	errs []error
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, v.c.Errorf(path, format, args...))
}

// validate checks what decoding could not: required keys, allowed values,
// references between sections and consumer names.
func (c *Config) validate() error {
	v := &validator{c: c}
	v.listen()
	if c.Store == "" {
		v.errorf("store", "required: the SQLite file, such as ./hub.db")
	}
	v.layer()
	for i, o := range c.AllowedOrigins {
		if o == "" || (strings.Contains(o, "://") && !validURL(o)) {
			v.errorf(fmt.Sprintf("allowed_origins[%d]", i), "want a host (example.com), *.example.com, https://example.com or *, got %q", RedactURL(o))
		}
	}
	v.websocket()
	if c.Inbox.Size <= 0 {
		v.errorf("inbox.size", "must be at least 1, got %d", c.Inbox.Size)
	}
	if f := c.Log.Format; f != "text" && f != "json" {
		v.errorf("log.format", "unknown format %q (want text or json)", f)
	}
	v.routes()
	v.bots()
	v.telegram()
	v.brokers()
	return errors.Join(v.errs...)
}

func (v *validator) listen() {
	host, port, err := net.SplitHostPort(v.c.Listen)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil || strings.ContainsAny(host, " /") {
		v.errorf("listen", "want host:port such as 127.0.0.1:8080 or :8080, got %q", v.c.Listen)
	}
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != ""
}

func (v *validator) websocket() {
	w := v.c.WebSocket
	if w.MaxMessageSize <= 0 {
		v.errorf("websocket.max_message_size", "must be positive")
	}
	for _, d := range []struct {
		key string
		ok  bool
	}{
		{"ping_interval", w.PingInterval > 0},
		{"pong_timeout", w.PongTimeout > 0},
		{"handshake_timeout", w.HandshakeTimeout > 0},
		{"close_timeout", w.CloseTimeout > 0},
		{"write_queue", w.WriteQueue > 0},
		{"write_timeout", w.WriteTimeout > 0},
	} {
		if !d.ok {
			v.errorf("websocket."+d.key, "must be positive")
		}
	}
	if w.PingInterval > 0 && w.PongTimeout <= w.PingInterval {
		v.errorf("websocket.pong_timeout", "%v must be longer than ping_interval (%v), or every socket is dropped between two pings", w.PongTimeout, w.PingInterval)
	}
}

func (v *validator) routes() {
	v.websocketRoutes()
	v.httpRoutes()
	for _, chat := range []struct {
		platform string
		routes   []ChatRoute
	}{{"telegram", v.c.Routes.Telegram}, {"discord", v.c.Routes.Discord}} {
		v.chatRoutes(chat.platform, chat.routes)
	}
	v.mqttRoutes()
	v.channelRoutes()
}

func (v *validator) channelRoutes() {
	seen := map[string]int{}
	for i, rt := range v.c.Routes.Channel {
		p := fmt.Sprintf("routes.channel[%d]", i)
		if v.required(p, "channel", rt.Channel) {
			if err := layer.ValidChannelName(rt.Channel); err != nil || strings.Contains(rt.Channel, "!") {
				v.errorf(p+".channel", "want a fixed channel name (letters, digits, -_.; no '!'), got %q", rt.Channel)
			}
			v.unique(p+".channel", rt.Channel, seen, i, "routes.channel")
		}
		v.consumer(p, rt.Consumer)
	}
}

func (v *validator) websocketRoutes() {
	seen := map[string]int{}
	for i, rt := range v.c.Routes.WebSocket {
		p := fmt.Sprintf("routes.websocket[%d]", i)
		if v.required(p, "path", rt.Path) {
			if _, err := core.ParsePath(rt.Path, nil); err != nil {
				v.errorf(p+".path", "%s", strings.TrimPrefix(err.Error(), "core: "))
			}
			v.unique(p+".path", rt.Path, seen, i, "routes.websocket")
		}
		v.consumer(p, rt.Consumer)
	}
}

func (v *validator) httpRoutes() {
	seen := map[string]int{}
	for i, rt := range v.c.Routes.HTTP {
		p := fmt.Sprintf("routes.http[%d]", i)
		if v.required(p, "path", rt.Path) {
			switch {
			case !strings.HasPrefix(rt.Path, "/"):
				v.errorf(p+".path", "must start with /, got %q", rt.Path)
			case slices.Contains(builtinPaths, rt.Path):
				v.errorf(p+".path", "%s is served by the hub itself", rt.Path)
			}
			v.unique(p+".path", rt.Path, seen, i, "routes.http")
		}
		if v.required(p, "handler", rt.Handler) && !hasHandler(rt.Handler) {
			known := handlerNames()
			v.errorf(p+".handler", "unknown page handler %q%s (known: %s)", rt.Handler, suggest(rt.Handler, known), list(known))
		}
	}
}

func (v *validator) chatRoutes(platform string, routes []ChatRoute) {
	seen := map[string]int{}
	for i, rt := range routes {
		p := fmt.Sprintf("routes.%s[%d]", platform, i)
		if rt.Bot != "" {
			v.botRef(p+".bot", rt.Bot, platform)
			v.unique(p+".bot", rt.Bot, seen, i, "routes."+platform)
		} else if j, dup := seen[""]; dup {
			v.errorf(p, "a second route for every bot (routes.%s[%d] has no bot either)", platform, j)
		} else {
			seen[""] = i
		}
		v.consumer(p, rt.Consumer)
	}
}

func (v *validator) mqttRoutes() {
	for i, rt := range v.c.Routes.MQTT {
		p := fmt.Sprintf("routes.mqtt[%d]", i)
		if names := v.c.brokerNames(); v.required(p, "broker", rt.Broker) && !slices.Contains(names, rt.Broker) {
			v.errorf(p+".broker", "no broker named %q in mqtt or mqtt_broker (known: %s)", rt.Broker, strings.Join(names, ", "))
		}
		if v.required(p, "topic", rt.Topic) {
			if _, err := hubmqtt.ParseTopic(rt.Topic, nil); err != nil {
				v.errorf(p+".topic", "%s", strings.TrimPrefix(err.Error(), "mqtt: "))
			}
		}
		v.consumer(p, rt.Consumer)
	}
}

// unique complains when val was already used by an earlier entry of list.
func (v *validator) unique(p, val string, seen map[string]int, i int, list string) {
	if j, dup := seen[val]; dup {
		v.errorf(p, "%q is already used by %s[%d]", val, list, j)
		return
	}
	seen[val] = i
}

// required reports whether the key under p is set, and complains if not.
func (v *validator) required(p, key, val string) bool {
	if val == "" {
		v.errorf(p, "%s is required", key)
		return false
	}
	return true
}

func (v *validator) consumer(p, name string) {
	if !v.required(p, "consumer", name) {
		return
	}
	known := consumerNames()
	if !slices.Contains(known, name) {
		v.errorf(p+".consumer", "unknown consumer %q%s (known: %s)", name, suggest(name, known), list(known))
	}
}

func (v *validator) botRef(p, name, platform string) {
	i := slices.IndexFunc(v.c.Bots, func(b Bot) bool { return b.Name == name })
	switch {
	case i < 0:
		v.errorf(p, "no bot named %q in bots", name)
	case v.c.Bots[i].Platform != platform:
		v.errorf(p, "bot %q is a %s bot, not %s", name, v.c.Bots[i].Platform, platform)
	}
}

func (v *validator) bots() {
	names := map[string]int{}
	for i, b := range v.c.Bots {
		p := fmt.Sprintf("bots[%d]", i)
		v.name(p, b.Name, names, i, "bots")
		if v.required(p, "platform", b.Platform) && b.Platform != "telegram" && b.Platform != "discord" {
			v.errorf(p+".platform", "unknown platform %q (want telegram or discord)", b.Platform)
		}
		// A bot without token: uses the one `hub token add` stored under
		// its name; the server reports it at this line if there is none.
		if b.APIURL != "" && !validURL(b.APIURL) {
			v.errorf(p+".api_url", "want a URL such as https://api.telegram.org, got %q", RedactURL(b.APIURL))
		}
		v.botMode(p, b)
	}
}

func (v *validator) botMode(p string, b Bot) {
	switch b.Mode {
	case "", "polling":
		if b.WebhookURL != "" || b.WebhookSecret != "" {
			v.errorf(p+".mode", "webhook_url and webhook_secret need mode: webhook")
		}
	case "webhook":
		if b.Platform != "telegram" {
			v.errorf(p+".mode", "only telegram bots take webhooks")
		}
		if b.WebhookURL != "" && !validURL(b.WebhookURL) {
			v.errorf(p+".webhook_url", "want the public URL of %s, such as https://hub.example%s", WebhookPath(b.Name), WebhookPath(b.Name))
		}
	default:
		v.errorf(p+".mode", "unknown mode %q (want polling or webhook)", b.Mode)
	}
}

// name checks that an entry has a unique name fit for scope keys
// ("telegram:<bot>:<chat>").
func (v *validator) name(p, name string, seen map[string]int, i int, section string) {
	if !v.required(p, "name", name) {
		return
	}
	if strings.ContainsAny(name, ": \t/") {
		v.errorf(p+".name", "%q may not contain ':', '/' or spaces", name)
	}
	v.unique(p+".name", name, seen, i, section)
}

func list(names []string) string {
	if len(names) == 0 {
		return "none: no plugin is compiled in"
	}
	return strings.Join(names, ", ")
}
