package config

import (
	"strings"
	"testing"
	"time"
)

func TestLayerForms(t *testing.T) {
	tests := []struct {
		name, src string
		backend   string
		check     func(Layer) bool
	}{
		{"default", "", LayerMemory, func(l Layer) bool { return l.URL == "memory" }},
		{"scalar memory", "layer: memory\n", LayerMemory, nil},
		{"scalar none", "layer: none\n", LayerNone, nil},
		{"scalar redis", "layer: redis://127.0.0.1:6379/0\n", LayerRedis,
			func(l Layer) bool { return len(l.RedisHosts()) == 1 && l.RedisHosts()[0] == "redis://127.0.0.1:6379/0" }},
		{"scalar from env", "layer: ${LAYER}\n", LayerNATS, func(l Layer) bool { return l.URL == "nats://127.0.0.1:4222" }},
		{"mapping without url is memory", "layer: {capacity: 5}\n", LayerMemory, func(l Layer) bool { return l.Capacity == 5 }},
		{"mapping", `
layer:
  url: rediss://:pw@redis.example:6380/2
  prefix: myapp
  capacity: 200
  expiry: 30s
  group_expiry: 1h
  channel_capacity: {"specific.*": 20, thumbnails: 1000}
  symmetric_encryption_keys: ["${KEY}"]
`, LayerRedis, func(l Layer) bool {
			return l.Prefix == "myapp" && l.Capacity == 200 && l.Expiry == 30*time.Second && l.GroupExpiry == time.Hour &&
				l.ChannelCapacity["specific.*"] == 20 && l.ChannelCapacity["thumbnails"] == 1000 &&
				len(l.SymmetricEncryptionKeys) == 1 && l.SymmetricEncryptionKeys[0].Value() == "k1"
		}},
		{"sharded", "layer:\n  hosts: [redis://a:6379, redis://b:6379]\n", LayerRedis,
			func(l Layer) bool { return len(l.RedisHosts()) == 2 && l.String() == "redis://a:6379,redis://b:6379" }},
		{"nats cluster", "layer: {url: \"nats://a:4222,nats://b:4222\", send_timeout: 2s}\n", LayerNATS,
			func(l Layer) bool { return l.SendTimeout == 2*time.Second }},
	}
	vars := env(map[string]string{"LAYER": "nats://127.0.0.1:4222", "KEY": "k1"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse("hub.yaml", []byte(tt.src), vars)
			if err != nil {
				t.Fatal(err)
			}
			if b := c.Layer.Backend(); b != tt.backend {
				t.Errorf("backend %q, want %q", b, tt.backend)
			}
			if tt.check != nil && !tt.check(c.Layer) {
				t.Errorf("layer %+v", c.Layer)
			}
		})
	}
}

func TestLayerBroken(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown url in mapping", "layer:\n  url: kafka://x\n", `hub.yaml:2: layer.url: unknown layer "kafka://x"`},
		{"url and hosts", "layer:\n  url: redis://a:1\n  hosts: [redis://b:1]\n", `hub.yaml:3: layer.hosts: give url or hosts, not both`},
		{"host not redis", "layer:\n  hosts:\n    - redis://a:1\n    - nats://b:1\n", `hub.yaml:4: layer.hosts[1]: want a redis:// or rediss:// URL, got "nats://b:1"`},
		{"host password hidden", "layer:\n  hosts: [\"redis://:secretpw@\"]\n", `layer.hosts[0]: malformed URL "redis://[redacted]@"`},
		{"keys on nats", "layer:\n  url: nats://a:1\n  symmetric_encryption_keys: [k]\n", `hub.yaml:3: layer.symmetric_encryption_keys: not an option of the nats layer (only of redis)`},
		{"prefix on memory", "layer: {prefix: x}\n", `layer.prefix: not an option of the memory layer (only of redis and nats)`},
		{"negative capacity", "layer:\n  capacity: -1\n", `hub.yaml:2: layer.capacity: must not be negative`},
		{"bad channel capacity", "layer:\n  channel_capacity: {\"a[\": 3, b: 0}\n", `layer.channel_capacity: bad pattern "a["`},
		{"zero channel capacity", "layer:\n  channel_capacity: {b: 0}\n", `hub.yaml:2: layer.channel_capacity: "b": capacity must be at least 1`},
		{"unknown key", "layer:\n  capacty: 3\n", `hub.yaml:2: layer.capacty: unknown key (did you mean "capacity"?)`},
		{"bad expiry", "layer:\n  expiry: 60\n", `hub.yaml:2: layer.expiry: want a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("hub.yaml", []byte(tt.src), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error\n  %v\nlacks\n  %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error leaks a password: %v", err)
			}
		})
	}
}
