package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Backoff is the first wait after a network or server failure; it doubles
// up to MaxBackoff.
const (
	Backoff    = 500 * time.Millisecond
	MaxBackoff = 30 * time.Second
)

// Config is what a platform tells the limiter; every field is required.
type Config[K comparable] struct {
	Bot   rate.Limit         // calls per second per bot
	Rate  func(K) rate.Limit // messages per second to one conversation
	Burst int                // how many messages a conversation may get at once
	// Retries is how many times a failed call is retried.
	Retries int
	// MaxWait is the longest a call waits out a retry_after; a longer one
	// fails it at once with Limited.
	MaxWait time.Duration
	// Limited is the error (wrapped) of a call held longer than MaxWait.
	Limited error
	// RetryAfter reports whether err is a 429 and how long it says to wait.
	RetryAfter func(err error) (time.Duration, bool)
	// Transient reports whether a failed call may succeed if repeated.
	Transient func(err error) bool
}

// Call says what an API call touches: the zero Key is no conversation;
// message calls (send, edit) count against the conversation's rate, other
// calls to it only wait out its retry_after.
type Call[K comparable] struct {
	Key     K
	Message bool
}

// Limiter paces one bot's calls and holds them back while a 429's
// retry_after runs.
type Limiter[K comparable] struct {
	cfg Config[K]
	bot *rate.Limiter

	mu       sync.Mutex
	botUntil time.Time // retry_after for calls without a conversation
	keys     map[K]*keyLimit
}

type keyLimit struct {
	rate  *rate.Limiter
	until time.Time // retry_after for this conversation
}

// New returns a limiter for one bot.
func New[K comparable](cfg Config[K]) *Limiter[K] {
	return &Limiter[K]{cfg: cfg, bot: rate.NewLimiter(cfg.Bot, 1), keys: make(map[K]*keyLimit)}
}

// Do runs fn within the limits, retrying a 429 once its retry_after has
// passed and network or server failures after a growing backoff.
func (l *Limiter[K]) Do(ctx context.Context, c Call[K], fn func(context.Context) error) error {
	wait := Backoff
	for attempt := 0; ; attempt++ {
		if err := l.wait(ctx, c); err != nil {
			return err
		}
		err := fn(ctx)
		if err == nil || attempt >= l.cfg.Retries || ctx.Err() != nil {
			return err
		}
		if d, ok := l.cfg.RetryAfter(err); ok {
			l.hold(c.Key, d)
			continue
		}
		if !l.cfg.Transient(err) {
			return err
		}
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, MaxBackoff)
	}
}

// DoResult is Do for a call that answers something the caller needs (a
// new message's id).
func DoResult[K comparable, R any](ctx context.Context, l *Limiter[K], c Call[K], fn func(context.Context) (R, error)) (R, error) {
	var result R
	err := l.Do(ctx, c, func(ctx context.Context) error {
		var err error
		result, err = fn(ctx)
		return err
	})
	return result, err
}

// wait blocks until the call may go: past any retry_after, then through the
// bot's and the conversation's rate. A 429 that arrives meanwhile is waited
// out too.
func (l *Limiter[K]) wait(ctx context.Context, c Call[K]) error {
	for {
		until, keyRate := l.state(c)
		if d := time.Until(until); d > l.cfg.MaxWait {
			return fmt.Errorf("%w: retry after %v", l.cfg.Limited, d.Round(time.Second))
		} else if d > 0 {
			if err := Sleep(ctx, d); err != nil {
				return err
			}
		}
		if err := l.bot.Wait(ctx); err != nil {
			return err
		}
		if c.Message && keyRate != nil {
			if err := keyRate.Wait(ctx); err != nil {
				return err
			}
		}
		if again, _ := l.state(c); !time.Now().Before(again) {
			return nil
		}
	}
}

// state returns when the call may next go and the conversation's rate
// limiter.
func (l *Limiter[K]) state(c Call[K]) (time.Time, *rate.Limiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var none K
	if c.Key == none {
		return l.botUntil, nil
	}
	kl := l.keys[c.Key]
	if kl == nil {
		kl = &keyLimit{rate: rate.NewLimiter(l.cfg.Rate(c.Key), l.cfg.Burst)}
		l.keys[c.Key] = kl
	}
	return later(kl.until, l.botUntil), kl.rate
}

// Until is when the call may next go, as far as retry_after says.
func (l *Limiter[K]) Until(c Call[K]) time.Time {
	t, _ := l.state(c)
	return t
}

// RetryAt says when a call that failed with err, after Do's retries, may
// be made again: once its retry_after ends if that was too long to wait
// (Limited); after MaxBackoff, or the retry_after if later, if it kept
// failing in transit; never (false) if the platform refused it, since
// repeating will not change that.
func (l *Limiter[K]) RetryAt(c Call[K], err error) (time.Time, bool) {
	until := l.Until(c)
	switch {
	case errors.Is(err, l.cfg.Limited):
		return until, true
	case l.cfg.Transient(err):
		return later(until, time.Now().Add(MaxBackoff)), true
	}
	return time.Time{}, false
}

// hold stops calls to a conversation (the zero key: every call of the bot)
// for d.
func (l *Limiter[K]) hold(key K, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	until := time.Now().Add(d)
	var none K
	if key == none {
		l.botUntil = later(l.botUntil, until)
	} else if kl := l.keys[key]; kl != nil {
		kl.until = later(kl.until, until)
	}
}

// Forget drops a conversation's limiter once it has nothing to remember, so
// idle conversations cost no memory.
func (l *Limiter[K]) Forget(key K) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if kl := l.keys[key]; kl != nil && time.Now().After(kl.until) && kl.rate.Tokens() >= float64(kl.rate.Burst()) {
		delete(l.keys, key)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Sleep waits d, or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
