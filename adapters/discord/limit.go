package discord

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/bwmarrin/discordgo"
	"golang.org/x/time/rate"

	"github.com/hubhq/hub/adapters/ratelimit"
)

// Limits are the outgoing rates, after Discord's published ones: 50
// requests a second per bot, and about 5 messages per 5 seconds per
// channel, with short bursts tolerated.
type Limits struct {
	Bot     rate.Limit // requests per second per bot; 0: 50
	Channel rate.Limit // messages per second per channel; 0: 1
	// Burst is how many messages a channel may get at once; 0: 5.
	Burst int
	// Retries is how many times a failed call is retried; 0: 5.
	Retries int
	// MaxWait is the longest a call waits out a 429's retry_after; a longer
	// one fails it at once with ErrRateLimited, so one flooded channel
	// cannot hold its consumer (and, through a full inbox, the bot) for an
	// hour. 0: one minute.
	MaxWait time.Duration
}

// ErrRateLimited fails a call to a channel (or bot) that Discord has told
// to wait longer than Limits.MaxWait.
var ErrRateLimited = errors.New("discord: rate limited by Discord")

func (l Limits) withDefaults() Limits {
	if l.Bot == 0 {
		l.Bot = 50
	}
	if l.Channel == 0 {
		l.Channel = 1
	}
	if l.Burst == 0 {
		l.Burst = 5
	}
	if l.Retries == 0 {
		l.Retries = 5
	}
	if l.MaxWait == 0 {
		l.MaxWait = time.Minute
	}
	return l
}

// call says what a REST call touches: channel "" is none; message calls
// (send, edit) count against the channel's rate, other channel calls only
// wait out its retry_after.
type call = ratelimit.Call[string]

// newLimiter paces one bot's calls within l and holds them back while a
// 429's retry_after runs.
func newLimiter(l Limits) *ratelimit.Limiter[string] {
	l = l.withDefaults()
	return ratelimit.New(ratelimit.Config[string]{
		Bot:     l.Bot,
		Rate:    func(string) rate.Limit { return l.Channel },
		Burst:   l.Burst,
		Retries: l.Retries,
		MaxWait: l.MaxWait,
		Limited: ErrRateLimited,
		RetryAfter: func(err error) (time.Duration, bool) {
			var flood *discordgo.RateLimitError
			if !errors.As(err, &flood) {
				return 0, false
			}
			return max(flood.RetryAfter, 10*time.Millisecond), true
		},
		Transient: transient,
	})
}

// transient reports whether a failed call may succeed if repeated: a server
// error or a network failure, not a refusal (4xx) or a cancellation.
func transient(err error) bool {
	var rest *discordgo.RESTError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &rest):
		return rest.Response != nil && rest.Response.StatusCode >= http.StatusInternalServerError
	}
	return !errors.Is(err, discordgo.ErrJSONUnmarshal)
}
