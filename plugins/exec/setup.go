package exec

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins"
)

// The hub finds the plugin by this name in its config:
//
//	consumer: exec
//	options: {name: weather, command: [python3, bots/weather.py]}
func init() { plugins.RegisterFactory("exec", newFromOptions) }

// options are Config as the config file spells it.
type options struct {
	Name             string            `json:"name"`
	Command          []string          `json:"command"`
	Dir              string            `json:"dir"`
	Env              map[string]string `json:"env"`
	EventTimeout     duration          `json:"event_timeout"`
	HandshakeTimeout duration          `json:"handshake_timeout"`
	StopGrace        duration          `json:"stop_grace"`
	Restart          struct {
		Min duration `json:"min"`
		Max duration `json:"max"`
	} `json:"restart"`
}

func newFromOptions(opts plugins.Options) (core.Application, error) {
	var o options
	if err := opts.Decode(&o); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	cfg := Config{Name: o.Name, Command: o.Command, Dir: o.Dir,
		EventTimeout: time.Duration(o.EventTimeout), HandshakeTimeout: time.Duration(o.HandshakeTimeout),
		StopGrace: time.Duration(o.StopGrace),
		Restart:   Backoff{Min: time.Duration(o.Restart.Min), Max: time.Duration(o.Restart.Max)}}
	for _, k := range slices.Sorted(maps.Keys(o.Env)) {
		cfg.Env = append(cfg.Env, k+"="+o.Env[k])
	}
	return New(cfg)
}

// duration reads "1.5s" as time.ParseDuration does, or a number of seconds.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		*d = duration(v * float64(time.Second))
	case string:
		p, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*d = duration(p)
	default:
		return fmt.Errorf("duration %s: want a string such as \"5s\" or a number of seconds", b)
	}
	return nil
}
