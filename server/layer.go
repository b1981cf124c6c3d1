package server

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/nats"
	"github.com/hubhq/hub/core/layer/redis"
)

// connectTimeout bounds connecting to a distributed layer at start: a hub
// whose Redis or NATS is unreachable says so instead of hanging.
const connectTimeout = 15 * time.Second

// NewLayer makes the channel layer the config names: nil for "none". A
// Redis or NATS layer is connected before it returns; its errors never
// contain the password of a layer URL.
func NewLayer(ctx context.Context, cfg *config.Config, logger *slog.Logger) (layer.Layer, error) {
	l := cfg.Layer
	opts := layer.Options{
		Capacity:        l.Capacity,
		ChannelCapacity: l.ChannelCapacity,
		Expiry:          l.Expiry,
		GroupExpiry:     l.GroupExpiry,
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	switch l.Backend() {
	case config.LayerNone:
		return nil, nil
	case config.LayerRedis:
		keys := make([]string, len(l.SymmetricEncryptionKeys))
		for i, k := range l.SymmetricEncryptionKeys {
			keys[i] = k.Value()
		}
		r, err := redis.New(ctx, redis.Options{
			Hosts:                   l.RedisHosts(),
			Prefix:                  l.Prefix,
			Layer:                   opts,
			SymmetricEncryptionKeys: keys,
			Logger:                  logger,
		})
		if err != nil {
			return nil, redact(err, l.RedisHosts()...)
		}
		return r, nil
	case config.LayerNATS:
		n, err := nats.New(ctx, nats.Options{URL: l.URL, Prefix: l.Prefix, Layer: opts, SendTimeout: l.SendTimeout, Logger: logger})
		if err != nil {
			return nil, redact(err, strings.Split(l.URL, ",")...)
		}
		return n, nil
	default:
		return layer.NewMemory(opts), nil
	}
}

// redact hides the passwords of urls in err's text: backends name the URL
// they failed to reach, and a layer error ends up in the log.
func redact(err error, urls ...string) error {
	msg := err.Error()
	for _, s := range urls {
		s = strings.TrimSpace(s)
		msg = strings.ReplaceAll(msg, s, config.RedactURL(s))
		if u, perr := url.Parse(s); perr == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				msg = strings.ReplaceAll(msg, pw, "[redacted]")
			}
		}
	}
	return errors.New("server: layer: " + msg)
}
