package telegram

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-telegram/bot"
	"golang.org/x/time/rate"
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

// limiter paces one bot's calls and holds them back while a 429's
// retry_after runs.
type limiter struct {
	limits Limits
	bot    *rate.Limiter

	mu       sync.Mutex
	botUntil time.Time // retry_after for calls without a chat
	chats    map[int64]*chatLimit
}

type chatLimit struct {
	rate  *rate.Limiter
	until time.Time // retry_after for this chat
}

func newLimiter(l Limits) *limiter {
	l = l.withDefaults()
	return &limiter{limits: l, bot: rate.NewLimiter(l.Bot, 1), chats: make(map[int64]*chatLimit)}
}

// call says what a Bot API call touches: chat 0 is none; message calls
// (send, edit) count against the chat's rate, other chat calls only wait
// out its retry_after.
type call struct {
	chat    int64
	group   bool
	message bool
}

// backoff is the first wait after a network or server failure; it doubles
// up to maxBackoff.
var (
	backoff    = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// do runs fn within the limits, retrying a 429 once its retry_after has
// passed and network or server failures after a growing backoff.
func (l *limiter) do(ctx context.Context, c call, fn func(context.Context) error) error {
	wait := backoff
	for attempt := 0; ; attempt++ {
		if err := l.wait(ctx, c); err != nil {
			return err
		}
		err := fn(ctx)
		if err == nil || attempt >= l.limits.Retries || ctx.Err() != nil {
			return err
		}
		var flood *bot.TooManyRequestsError
		switch {
		case errors.As(err, &flood):
			l.hold(c.chat, time.Duration(max(flood.RetryAfter, 1))*time.Second)
		case !transient(err):
			return err
		default:
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			wait = min(2*wait, maxBackoff)
		}
	}
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

// wait blocks until the call may go: past any retry_after, then through the
// bot's and the chat's rate. A 429 that arrives meanwhile is waited out too.
func (l *limiter) wait(ctx context.Context, c call) error {
	for {
		until, chatRate := l.state(c)
		if d := time.Until(until); d > l.limits.MaxWait {
			return fmt.Errorf("%w: retry after %v", ErrRateLimited, d.Round(time.Second))
		} else if d > 0 {
			if err := sleep(ctx, d); err != nil {
				return err
			}
		}
		if err := l.bot.Wait(ctx); err != nil {
			return err
		}
		if c.message && chatRate != nil {
			if err := chatRate.Wait(ctx); err != nil {
				return err
			}
		}
		if again, _ := l.state(c); !time.Now().Before(again) {
			return nil
		}
	}
}

// state returns when the call may next go and the chat's rate limiter.
func (l *limiter) state(c call) (time.Time, *rate.Limiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.chat == 0 {
		return l.botUntil, nil
	}
	cl := l.chats[c.chat]
	if cl == nil {
		r := l.limits.Chat
		if c.group {
			r = l.limits.Group
		}
		cl = &chatLimit{rate: rate.NewLimiter(r, l.limits.Burst)}
		l.chats[c.chat] = cl
	}
	return later(cl.until, l.botUntil), cl.rate
}

// until is when the call may next go, as far as retry_after says.
func (l *limiter) until(c call) time.Time {
	t, _ := l.state(c)
	return t
}

// hold stops calls to a chat (0: every call of the bot) for d.
func (l *limiter) hold(chat int64, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	until := time.Now().Add(d)
	if chat == 0 {
		l.botUntil = later(l.botUntil, until)
	} else if cl := l.chats[chat]; cl != nil {
		cl.until = later(cl.until, until)
	}
}

// forget drops a chat's limiter once it has nothing to remember, so idle
// chats cost no memory.
func (l *limiter) forget(chat int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cl := l.chats[chat]; cl != nil && time.Now().After(cl.until) && cl.rate.Tokens() >= float64(cl.rate.Burst()) {
		delete(l.chats, chat)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
