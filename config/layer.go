package config

import (
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

// Backends of the channel layer, as Layer.Backend names them.
const (
	LayerMemory = "memory"
	LayerNone   = "none"
	LayerRedis  = "redis"
	LayerNATS   = "nats"
)

// Layer is the channel layer. A config writes it either as one value, the
// backend or its URL:
//
//	layer: redis://127.0.0.1:6379/0
//
// or as a mapping with the options every backend shares (capacity, expiry,
// group_expiry, channel_capacity) and those of one backend:
//
//	layer:
//	  url: redis://127.0.0.1:6379/0
//	  prefix: asgi
//	  capacity: 200
//	  channel_capacity: {"specific.*": 20}
//
// Either way a file's layer replaces the default one whole, so the options
// of the built-in memory layer never leak into a file's Redis layer.
type Layer struct {
	// URL is memory (also ""), none, a redis:// or rediss:// URL, or
	// nats:// URLs separated by commas.
	URL string `yaml:"url"`
	// Hosts shard a Redis layer over several servers, as channels_redis'
	// hosts list; a Django project must list the same hosts in the same order.
	Hosts []string `yaml:"hosts"`
	// Prefix starts every Redis key (default "asgi", channels_redis' own) or
	// NATS subject (default "hub").
	Prefix string `yaml:"prefix"`
	// Capacity is how many messages a channel holds (0: 100).
	Capacity int `yaml:"capacity"`
	// ChannelCapacity overrides Capacity for channel names matching a glob
	// ("specific.*": 20).
	ChannelCapacity map[string]int `yaml:"channel_capacity"`
	// Expiry is how long an undelivered message lives (0: 60s).
	Expiry time.Duration `yaml:"expiry"`
	// GroupExpiry is how long a group membership lives (0: 24h).
	GroupExpiry time.Duration `yaml:"group_expiry"`
	// SymmetricEncryptionKeys encrypt Redis messages as channels_redis'
	// symmetric_encryption_keys do: the first encrypts, any decrypts.
	SymmetricEncryptionKeys []Secret `yaml:"symmetric_encryption_keys"`
	// SendTimeout bounds how long a NATS Send waits for the receiving
	// process (0: 5s).
	SendTimeout time.Duration `yaml:"send_timeout"`
}

// setScalar reads the one-value form "layer: redis://…".
func (l *Layer) setScalar(s string) error {
	*l = Layer{URL: s}
	return nil
}

// Backend names the layer's backend: LayerMemory, LayerNone, LayerRedis or
// LayerNATS; "" for a URL it does not know (which validation refuses).
func (l Layer) Backend() string {
	switch u := l.URL; {
	case u == "" && len(l.Hosts) > 0:
		return LayerRedis
	case u == "" || u == LayerMemory:
		return LayerMemory
	case u == LayerNone:
		return LayerNone
	case strings.HasPrefix(u, "redis://"), strings.HasPrefix(u, "rediss://"):
		return LayerRedis
	case strings.HasPrefix(u, "nats://"):
		return LayerNATS
	}
	return ""
}

// RedisHosts are the Redis servers of a Redis layer: Hosts, or the URL.
func (l Layer) RedisHosts() []string {
	if len(l.Hosts) > 0 {
		return l.Hosts
	}
	return []string{l.URL}
}

// String describes the layer for logs, with passwords hidden.
func (l Layer) String() string {
	switch b := l.Backend(); {
	case b == LayerRedis && len(l.Hosts) > 0:
		hosts := make([]string, len(l.Hosts))
		for i, h := range l.Hosts {
			hosts[i] = RedactURL(h)
		}
		return strings.Join(hosts, ",")
	case b == LayerMemory:
		return LayerMemory
	}
	return RedactURL(l.URL)
}

// layerOptions says which backends read each backend-specific option.
var layerOptions = []struct {
	key      string
	set      func(Layer) bool
	backends []string
}{
	{"hosts", func(l Layer) bool { return len(l.Hosts) > 0 }, []string{LayerRedis}},
	{"prefix", func(l Layer) bool { return l.Prefix != "" }, []string{LayerRedis, LayerNATS}},
	{"symmetric_encryption_keys", func(l Layer) bool { return len(l.SymmetricEncryptionKeys) > 0 }, []string{LayerRedis}},
	{"send_timeout", func(l Layer) bool { return l.SendTimeout != 0 }, []string{LayerNATS}},
}

func (v *validator) layer() {
	l := v.c.Layer
	b := l.Backend()
	switch b {
	case "":
		v.errorf(v.layerKey("url"), "unknown layer %q (want memory, none, redis://host:port/db or nats://host:port)", RedactURL(l.URL))
		return
	case LayerRedis:
		v.redisHosts(l)
	case LayerNATS:
		for u := range strings.SplitSeq(l.URL, ",") {
			if !validURL(strings.TrimSpace(u)) {
				v.errorf(v.layerKey("url"), "malformed URL %q", RedactURL(u))
			}
		}
	}
	for _, o := range layerOptions {
		if o.set(l) && !slices.Contains(o.backends, b) {
			v.errorf("layer."+o.key, "not an option of the %s layer (only of %s)", b, strings.Join(o.backends, " and "))
		}
	}
	if b == LayerNone {
		return
	}
	v.layerLimits(l)
}

// layerKey is the path of a layer key, or of layer itself for the one-value
// form, so errors point at a line that exists.
func (v *validator) layerKey(key string) string {
	if _, ok := v.c.lines["layer."+key]; ok {
		return "layer." + key
	}
	return "layer"
}

func (v *validator) redisHosts(l Layer) {
	if l.URL != "" && len(l.Hosts) > 0 {
		v.errorf("layer.hosts", "give url or hosts, not both (hosts shard the layer over several Redis servers)")
		return
	}
	for i, h := range l.RedisHosts() {
		p := v.layerKey("url")
		if len(l.Hosts) > 0 {
			p = fmt.Sprintf("layer.hosts[%d]", i)
		}
		u, err := url.Parse(h)
		switch {
		case err != nil || u.Host == "":
			v.errorf(p, "malformed URL %q", RedactURL(h))
		case u.Scheme != "redis" && u.Scheme != "rediss":
			v.errorf(p, "want a redis:// or rediss:// URL, got %q", RedactURL(h))
		}
	}
}

func (v *validator) layerLimits(l Layer) {
	for _, d := range []struct {
		key string
		bad bool
	}{
		{"capacity", l.Capacity < 0},
		{"expiry", l.Expiry < 0},
		{"group_expiry", l.GroupExpiry < 0},
		{"send_timeout", l.SendTimeout < 0},
	} {
		if d.bad {
			v.errorf("layer."+d.key, "must not be negative (0 is the default)")
		}
	}
	for _, pattern := range slices.Sorted(maps.Keys(l.ChannelCapacity)) {
		p := "layer.channel_capacity"
		if _, err := path.Match(pattern, ""); err != nil {
			v.errorf(p, "bad pattern %q: %v", pattern, err)
		}
		if n := l.ChannelCapacity[pattern]; n <= 0 {
			v.errorf(p, "%q: capacity must be at least 1, got %d", pattern, n)
		}
	}
}
