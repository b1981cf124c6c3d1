package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// TelegramLimits pace each bot's outgoing Bot API calls, after Telegram's
// published limits (the defaults). Raising them only makes sense against a
// local Bot API server or a test fake: Telegram itself answers calls above
// its limits with 429 Too Many Requests.
//
//	telegram:
//	  limits: {bot: 30, chat: 1, group: 20/m, burst: 3}
type TelegramLimits struct {
	Bot   Rate `yaml:"bot"`   // calls per second per bot
	Chat  Rate `yaml:"chat"`  // messages per second per private chat
	Group Rate `yaml:"group"` // messages per second per group
	// Burst is how many messages a chat may get at once.
	Burst int `yaml:"burst"`
}

// Rate is a number of events per second, written "30", "0.5", "30/s" or,
// per minute, "20/m".
type Rate float64

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rate) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	num, per := s, 1.0
	if n, unit, ok := strings.Cut(s, "/"); ok {
		num = strings.TrimSpace(n)
		switch strings.TrimSpace(unit) {
		case "s":
		case "m", "min":
			per = 60
		default:
			return fmt.Errorf("want a rate such as 30 (per second), 30/s or 20/m, got %q", s)
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("want a rate such as 30 (per second), 30/s or 20/m, got %q", s)
	}
	*r = Rate(f / per)
	return nil
}

// PerSecond is the rate in events per second.
func (r Rate) PerSecond() float64 { return float64(r) }

func (v *validator) telegram() {
	t := v.c.Telegram
	if t.IdleTimeout <= 0 || t.PollTimeout <= 0 {
		v.errorf("telegram", "idle_timeout and poll_timeout must be positive")
	}
	for _, r := range []struct {
		key  string
		rate Rate
	}{{"bot", t.Limits.Bot}, {"chat", t.Limits.Chat}, {"group", t.Limits.Group}} {
		if r.rate <= 0 {
			v.errorf("telegram.limits."+r.key, "must be positive (messages per second), got %v", float64(r.rate))
		}
	}
	if t.Limits.Burst < 1 {
		v.errorf("telegram.limits.burst", "must be at least 1, got %d", t.Limits.Burst)
	}
}
