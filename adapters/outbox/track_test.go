package outbox

import (
	"context"
	"slices"
	"testing"

	"github.com/hubhq/hub/core"
)

// event is a test event; its text is its key.
type event string

func (event) Type() string { return "test.event" }

func TestTrackerKeysActionsByTheEventHandled(t *testing.T) {
	tr := NewTracker(func(ev core.Event) string { return string(ev.(event)) })
	var keys, handled []string
	app := core.AppFunc(func(ctx context.Context, _ *core.Scope, inbox core.Inbox, _ core.SendFunc) error {
		keys = append(keys, tr.NextKey()) // a greeting: before any event
		for range 4 {
			if _, err := inbox.Next(ctx); err != nil {
				return err
			}
			keys = append(keys, tr.NextKey(), tr.NextKey())
		}
		return nil
	})
	inbox := make(chan core.Event, 4)
	for _, ev := range []event{"a", "b", "b", ""} { // b delivered twice; then an event of no key
		inbox <- ev
	}
	wrapped := Track(app, func(*core.Scope) *Tracker { return tr }, func(_ *core.Scope, ev string) { handled = append(handled, ev) })
	if err := wrapped.Serve(t.Context(), &core.Scope{}, inbox, nil); err != nil {
		t.Fatal(err)
	}
	// The second delivery of b writes b's keys again: the outbox makes none
	// of its calls twice.
	if want := []string{"", "a:0", "a:1", "b:0", "b:1", "b:0", "b:1", "", ""}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if want := []string{"a", "b", "b"}; !slices.Equal(handled, want) {
		t.Errorf("handled %q, want %q", handled, want)
	}
}
