package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"golang.org/x/time/rate"
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

// limiter paces one bot's calls and holds them back while a 429's
// retry_after runs.
type limiter struct {
	limits Limits
	bot    *rate.Limiter

	mu       sync.Mutex
	botUntil time.Time // retry_after for calls without a channel
	channels map[string]*channelLimit
}

type channelLimit struct {
	rate  *rate.Limiter
	until time.Time // retry_after for this channel
}

func newLimiter(l Limits) *limiter {
	l = l.withDefaults()
	return &limiter{limits: l, bot: rate.NewLimiter(l.Bot, 1), channels: make(map[string]*channelLimit)}
}

// call says what a REST call touches: channel "" is none; message calls
// (send, edit) count against the channel's rate, other channel calls only
// wait out its retry_after.
type call struct {
	channel string
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
		var flood *discordgo.RateLimitError
		switch {
		case errors.As(err, &flood):
			l.hold(c.channel, max(flood.RetryAfter, 10*time.Millisecond))
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

// wait blocks until the call may go: past any retry_after, then through the
// bot's and the channel's rate. A 429 that arrives meanwhile is waited out too.
func (l *limiter) wait(ctx context.Context, c call) error {
	for {
		until, channelRate := l.state(c)
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
		if c.message && channelRate != nil {
			if err := channelRate.Wait(ctx); err != nil {
				return err
			}
		}
		if again, _ := l.state(c); !time.Now().Before(again) {
			return nil
		}
	}
}

// state returns when the call may next go and the channel's rate limiter.
func (l *limiter) state(c call) (time.Time, *rate.Limiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.channel == "" {
		return l.botUntil, nil
	}
	cl := l.channels[c.channel]
	if cl == nil {
		cl = &channelLimit{rate: rate.NewLimiter(l.limits.Channel, l.limits.Burst)}
		l.channels[c.channel] = cl
	}
	return later(cl.until, l.botUntil), cl.rate
}

// hold stops calls to a channel ("": every call of the bot) for d.
func (l *limiter) hold(channel string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	until := time.Now().Add(d)
	if channel == "" {
		l.botUntil = later(l.botUntil, until)
	} else if cl := l.channels[channel]; cl != nil {
		cl.until = later(cl.until, until)
	}
}

// forget drops a channel's limiter once it has nothing to remember, so idle
// channels cost no memory.
func (l *limiter) forget(channel string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cl := l.channels[channel]; cl != nil && time.Now().After(cl.until) && cl.rate.Tokens() >= float64(cl.rate.Burst()) {
		delete(l.channels, channel)
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
