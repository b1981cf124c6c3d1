package telegram

import (
	"context"
	"errors"
	"time"

	"github.com/go-telegram/bot"
	"golang.org/x/time/rate"

	"github.com/hubhq/hub/adapters/ratelimit"
)

// Limits are the outgoing rates, after Telegram's published ones: about 30
// messages a second per bot, one a second per chat and 20 a minute per
// group, with short bursts tolerated.
type Limits struct {
	Bot   rate.Limit // calls per second per bot; 0: 30
	Chat  rate.Limit // messages per second per private chat; 0: 1
	Group rate.Limit // messages per second per group; 0: 20/60
	// Burst is how many messages a chat may get at once; 0: 3.
	Burst int
	// Retries is how many times a failed call is retried; 0: 5.
	Retries int
	// MaxWait is the longest a call waits out a 429's retry_after; a longer
	// one fails it at once with ErrRateLimited, so one flooded chat cannot
	// hold its consumer (and, through a full inbox, the bot) for an hour.
	// 0: one minute.
	MaxWait time.Duration
}

// ErrRateLimited fails a call to a chat (or bot) that Telegram has told to
// wait longer than Limits.MaxWait.
var ErrRateLimited = errors.New("telegram: rate limited by Telegram")

func (l Limits) withDefaults() Limits {
	if l.Bot == 0 {
		l.Bot = 30
	}
	if l.Chat == 0 {
		l.Chat = 1
	}
	if l.Group == 0 {
		l.Group = 20.0 / 60
	}
	if l.Burst == 0 {
		l.Burst = 3
	}
	if l.Retries == 0 {
		l.Retries = 5
	}
	if l.MaxWait == 0 {
		l.MaxWait = time.Minute
	}
	return l
}

// chatKey is the conversation a call touches, for the limiter: the zero
// chatKey is none. A group's messages go at Limits.Group, a private chat's
// at Limits.Chat.
type chatKey struct {
	chat  int64
	group bool
}

// call says what a Bot API call touches: message calls (send, edit) count
// against the chat's rate, other chat calls only wait out its retry_after.
type call = ratelimit.Call[chatKey]

// newLimiter paces one bot's calls within l and holds them back while a
// 429's retry_after runs.
func newLimiter(l Limits) *ratelimit.Limiter[chatKey] {
	l = l.withDefaults()
	return ratelimit.New(ratelimit.Config[chatKey]{
		Bot: l.Bot,
		Rate: func(k chatKey) rate.Limit {
			if k.group {
				return l.Group
			}
			return l.Chat
		},
		Burst:   l.Burst,
		Retries: l.Retries,
		MaxWait: l.MaxWait,
		Limited: ErrRateLimited,
		RetryAfter: func(err error) (time.Duration, bool) {
			var flood *bot.TooManyRequestsError
			if !errors.As(err, &flood) {
				return 0, false
			}
			return time.Duration(max(flood.RetryAfter, 1)) * time.Second, true
		},
		Transient: transient,
	})
}

// transient reports whether a failed call may succeed if repeated: not when
// Telegram refused it (bad request, forbidden, unknown chat, …).
func transient(err error) bool {
	for _, permanent := range []error{bot.ErrorBadRequest, bot.ErrorForbidden, bot.ErrorUnauthorized, bot.ErrorNotFound, bot.ErrorConflict, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, permanent) {
			return false
		}
	}
	return !bot.IsMigrateError(err)
}
