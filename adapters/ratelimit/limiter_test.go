package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

var (
	errLimited  = errors.New("limited")
	errNetwork  = errors.New("connection reset")
	errRefused  = errors.New("bad request")
	errFlood    = errors.New("429")
	floodFor    = 2 * MaxBackoff
	testLimiter = func() *Limiter[string] {
		return New(Config[string]{
			Bot: rate.Inf, Rate: func(string) rate.Limit { return rate.Inf }, Burst: 1, Retries: 1,
			MaxWait: time.Second, Limited: errLimited,
			RetryAfter: func(err error) (time.Duration, bool) { return floodFor, errors.Is(err, errFlood) },
			Transient:  func(err error) bool { return !errors.Is(err, errRefused) },
		})
	}
)

func TestRetryAt(t *testing.T) {
	l := testLimiter()
	c := Call[string]{Key: "chat", Message: true}
	// A 429 holds the chat past MaxWait: the retry fails Limited.
	if err := l.Do(t.Context(), c, func(ctx context.Context) error { return errFlood }); !errors.Is(err, errLimited) {
		t.Fatalf("Do = %v, want the limited error", err)
	}
	held := l.Until(c)
	if time.Until(held) < MaxBackoff {
		t.Fatalf("held until %v, want the 429's retry_after", held)
	}
	for _, tc := range []struct {
		name  string
		err   error
		ok    bool
		after time.Time // the retry is no earlier
	}{
		{"held too long", errLimited, true, held},
		{"failing in transit", errNetwork, true, time.Now().Add(MaxBackoff)},
		{"refused", errRefused, false, time.Time{}},
	} {
		at, ok := l.RetryAt(c, tc.err)
		if ok != tc.ok || at.Before(tc.after) || tc.name == "held too long" && !at.Equal(held) {
			t.Errorf("%s: RetryAt = %v, %v; want %v, no earlier than %v", tc.name, at, ok, tc.ok, tc.after)
		}
	}
}
