package store

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestMessageMapSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tg := MessageCopy{Scope: "telegram:support:42", ID: "7"}
	dc := MessageCopy{Scope: "discord:community:998877", ID: "1234567890"}
	for _, c := range []MessageCopy{tg, dc} {
		if err := db.MessageLink(t.Context(), "hub1", c); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if id, ok, err := db.MessageHubID(t.Context(), dc); err != nil || !ok || id != "hub1" {
		t.Fatalf("MessageHubID(discord copy) = %q, %v, %v; want hub1", id, ok, err)
	}
	got, err := db.MessageCopies(t.Context(), "hub1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []MessageCopy{tg, dc}; !reflect.DeepEqual(got, want) {
		t.Fatalf("MessageCopies = %+v; want %+v", got, want)
	}
	if _, ok, err := db.MessageHubID(t.Context(), MessageCopy{Scope: tg.Scope, ID: "8"}); err != nil || ok {
		t.Fatalf("an unlinked message: ok=%v err=%v; want not found", ok, err)
	}
}

func TestMessageLinkRefusesEmptyParts(t *testing.T) {
	db, _ := openTest(t)
	if err := db.MessageLink(t.Context(), "", MessageCopy{Scope: "s", ID: "1"}); err == nil {
		t.Fatal("MessageLink with no hub id: want an error")
	}
	if err := db.MessageLink(t.Context(), "h", MessageCopy{Scope: "s"}); err == nil {
		t.Fatal("MessageLink with no message id: want an error")
	}
}

func TestMessagePruneForgetsOldCopies(t *testing.T) {
	clock := newFakeClock()
	db, _ := openTest(t, withClock(clock.Now))
	old := MessageCopy{Scope: "telegram:a:1", ID: "1"}
	if err := db.MessageLink(t.Context(), "old", old); err != nil {
		t.Fatal(err)
	}
	clock.Advance(48 * time.Hour)
	fresh := MessageCopy{Scope: "telegram:a:1", ID: "2"}
	if err := db.MessageLink(t.Context(), "fresh", fresh); err != nil {
		t.Fatal(err)
	}
	n, err := db.MessagePrune(t.Context(), clock.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("MessagePrune = %d, %v; want 1", n, err)
	}
	if _, ok, _ := db.MessageHubID(t.Context(), old); ok {
		t.Error("the old copy is still linked after the prune")
	}
	if _, ok, _ := db.MessageHubID(t.Context(), fresh); !ok {
		t.Error("the fresh copy was pruned")
	}
}

func TestSweepForgetsCopiesPastTheRetention(t *testing.T) {
	clock := newFakeClock()
	db, _ := openTest(t, withClock(clock.Now), WithSweepInterval(5*time.Millisecond), WithMessageRetention(24*time.Hour))
	c := MessageCopy{Scope: "discord:community:1", ID: "9"}
	if err := db.MessageLink(t.Context(), "h", c); err != nil {
		t.Fatal(err)
	}
	clock.Advance(25 * time.Hour)
	waitFor(t, "the sweep to forget a copy older than the retention", func() bool {
		_, ok, err := db.MessageHubID(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		return !ok
	})
}
