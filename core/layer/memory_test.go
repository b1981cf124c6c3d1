package layer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// These tests reach into the clock; the shared conformance suite for every
// backend lives in package layertest.

func TestMemoryExpiryAndGroupExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMemory(Options{})
	m.now = func() time.Time { return now }
	ctx := context.Background()

	m.Send(ctx, "old", Message{"type": "t", "n": 1})
	now = now.Add(DefaultExpiry)
	m.Send(ctx, "old", Message{"type": "t", "n": 2})
	msg, err := m.Receive(ctx, "old")
	if err != nil || msg["n"] != 2 {
		t.Fatalf("got %v %v, want the unexpired message", msg, err)
	}
	if m.Stats().Expired != 1 {
		t.Fatalf("expired = %d", m.Stats().Expired)
	}

	m.GroupAdd(ctx, "g", "member")
	now = now.Add(DefaultGroupExpiry + time.Second)
	m.GroupSend(ctx, "g", Message{"type": "t"})
	if c, g := m.Size(); c != 0 || g != 1 {
		// the membership expired, so nothing was queued for "member"
		t.Fatalf("size after expired group send: %d channels, %d groups", c, g)
	}
}

func TestMemoryCapacity(t *testing.T) {
	m := NewMemory(Options{Capacity: 2, ChannelCapacity: map[string]int{"big.*": 3}})
	ctx := context.Background()
	for _, ch := range []struct {
		name string
		cap  int
	}{{"small", 2}, {"big.one", 3}} {
		for i := range ch.cap {
			if err := m.Send(ctx, ch.name, Message{"type": "t", "i": i}); err != nil {
				t.Fatalf("%s send %d: %v", ch.name, i, err)
			}
		}
		if err := m.Send(ctx, ch.name, Message{"type": "t"}); !errors.Is(err, ErrChannelFull) {
			t.Fatalf("%s over capacity: %v", ch.name, err)
		}
	}
	m.GroupAdd(ctx, "g", "small")
	if err := m.GroupSend(ctx, "g", Message{"type": "t"}); err != nil {
		t.Fatalf("group send to a full member failed: %v", err)
	}
	if s := m.Stats(); s.GroupDrop != 1 || s.Full != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNames(t *testing.T) {
	good := []string{"chat_lobby", "a.b-c_d", "specific.abc!def", "specific.abc!"}
	for _, n := range good {
		if err := ValidChannelName(n); err != nil {
			t.Errorf("channel %q refused: %v", n, err)
		}
	}
	bad := []string{"", "has space", "two!bangs!", "é", strings.Repeat("a", 100)}
	for _, n := range bad {
		if err := ValidChannelName(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("channel %q accepted", n)
		}
	}
	if err := ValidGroupName("specific.a!b"); err == nil {
		t.Error("group name with ! accepted")
	}
}

func TestMemoryReceiveWakesOnSend(t *testing.T) {
	m := NewMemory(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan Message)
	for range 3 {
		go func() {
			msg, err := m.Receive(ctx, "work")
			if err == nil {
				got <- msg
			}
		}()
	}
	for i := range 3 {
		m.Send(ctx, "work", Message{"type": "job", "id": i})
	}
	seen := map[any]bool{}
	for range 3 {
		select {
		case msg := <-got:
			seen[msg["id"]] = true
		case <-ctx.Done():
			t.Fatal("receivers did not all wake")
		}
	}
	if len(seen) != 3 {
		t.Fatalf("receivers got %v, want three distinct jobs", seen)
	}
}

func BenchmarkMemorySendReceive(b *testing.B) {
	m := NewMemory(Options{})
	ctx := context.Background()
	msg := Message{"type": "bench"}
	for i := 0; b.Loop(); i++ {
		ch := fmt.Sprintf("c%d", i%64)
		m.Send(ctx, ch, msg)
		m.Receive(ctx, ch)
	}
}

// TestNamesMatchChannelsRegexp checks the byte-loop name rules against the
// regular expressions Channels uses, over names built from every interesting
// character.
func TestNamesMatchChannelsRegexp(t *testing.T) {
	channelRE := regexp.MustCompile(`^[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?$`)
	groupRE := regexp.MustCompile(`^[a-zA-Z\d\-_.]+$`)
	alphabet := []string{"", "a", "Z", "0", "-", "_", ".", "!", " ", "é", "/", ":"}
	for _, a := range alphabet {
		for _, b := range alphabet {
			for _, c := range alphabet {
				name := a + b + c
				if got, want := ValidChannelName(name) == nil, channelRE.MatchString(name); got != want {
					t.Errorf("channel %q: valid=%v, Channels says %v", name, got, want)
				}
				if got, want := ValidGroupName(name) == nil, groupRE.MatchString(name); got != want {
					t.Errorf("group %q: valid=%v, Channels says %v", name, got, want)
				}
			}
		}
	}
}
