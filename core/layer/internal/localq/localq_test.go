package localq

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newQueues(now *time.Time, closed chan struct{}) (*Queues[int], *sync.Mutex, *atomic.Int64) {
	var mu sync.Mutex
	var expired atomic.Int64
	q := New[int](&mu, Config{
		Capacity:  func(string) int { return 2 },
		Expiry:    time.Minute,
		Now:       func() time.Time { return *now },
		Expired:   &expired,
		Closed:    closed,
		ErrClosed: errors.New("closed"),
	})
	return q, &mu, &expired
}

func TestPushCapacityExpiryAndSweep(t *testing.T) {
	now := time.Unix(1000, 0)
	q, mu, expired := newQueues(&now, nil)
	mu.Lock()
	if !q.Push("c", 1, now) || !q.Push("c", 2, now) || q.Push("c", 3, now) {
		t.Fatal("capacity 2 not kept")
	}
	q.Push("abandoned", 1, now)
	now = now.Add(time.Minute)
	for range sweepEvery - 1 {
		if q.MaybeSweep() {
			t.Fatal("swept early")
		}
	}
	if !q.MaybeSweep() {
		t.Fatal("no sweep after sweepEvery operations")
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("%d queues left after a sweep of expired ones", n)
	}
	mu.Unlock()
	if expired.Load() != 3 {
		t.Fatalf("expired = %d, want 3", expired.Load())
	}
}

func TestWatchAndClose(t *testing.T) {
	now := time.Unix(1000, 0)
	closed := make(chan struct{})
	q, mu, _ := newQueues(&now, closed)
	kicks := 0
	stop := q.Watch("w", func() { kicks++ })
	mu.Lock()
	q.Push("w", 7, now)
	mu.Unlock()
	if m, ok := q.TryReceive("w"); !ok || m != 7 || kicks != 1 {
		t.Fatalf("TryReceive = %v, %v after %d kicks", m, ok, kicks)
	}
	stop()
	stop() // a second stop does nothing
	mu.Lock()
	if q.Len() != 0 {
		t.Fatal("an unwatched empty queue was kept")
	}
	mu.Unlock()

	errs := make(chan error)
	go func() {
		_, err := q.Receive(context.Background(), "r")
		errs <- err
	}()
	close(closed)
	if err := <-errs; err == nil || err.Error() != "closed" {
		t.Fatalf("Receive after close: %v", err)
	}
}
