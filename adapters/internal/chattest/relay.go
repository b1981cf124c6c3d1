package chattest

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/store"
)

// Relay is the hub's side of a relay test: the memory layer a bot takes
// actions from, and the store that links each message the bot sends for
// the hub to its copy on the platform.
type Relay struct {
	Layer *layer.Memory
	Store *store.DB
	// Channel is the bot's action channel.
	Channel string
}

// NewRelay makes the layer and the store for a relay test of bot on
// platform; run the adapter with Runtime as its runtime's template and
// Store as its store.
func NewRelay(t testing.TB, platform, bot string) *Relay {
	t.Helper()
	return &Relay{Store: OpenStore(t), Layer: layer.NewMemory(layer.Options{}), Channel: chat.ActionChannel(platform, bot)}
}

// Runtime is a template for Config.Runtime: the relay's layer.
func (r *Relay) Runtime() *core.Runtime { return &core.Runtime{Layer: r.Layer} }

// Act sends an action for scope to the bot's action channel.
func (r *Relay) Act(t testing.TB, scope string, action core.Event) {
	t.Helper()
	m, err := chat.ActionMessage(scope, action)
	if err != nil {
		t.Fatal(err)
	}
	r.Send(t, m)
}

// Send sends m as it is to the bot's action channel: a message Act would
// not make.
func (r *Relay) Send(t testing.TB, m layer.Message) {
	t.Helper()
	if err := r.Layer.Send(context.Background(), r.Channel, m); err != nil {
		t.Fatal(err)
	}
}

// Linked waits until db links hub id hubID to one copy, want.
func Linked(t testing.TB, db *store.DB, hubID string, want store.MessageCopy) {
	t.Helper()
	Eventually(t, hubID+" linked", func() bool {
		copies, err := db.MessageCopies(context.Background(), hubID)
		return err == nil && reflect.DeepEqual(copies, []store.MessageCopy{want})
	})
}

// AssertDropped fails the test unless logs tell of want action messages
// dropped, each in a warning that names bot.
func AssertDropped(t testing.TB, logs, bot string, want int) {
	t.Helper()
	var drops []string
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, "action message dropped") {
			drops = append(drops, line)
			if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "bot="+bot) {
				t.Errorf("drop not a warning naming the bot: %s", line)
			}
		}
	}
	if len(drops) != want {
		t.Errorf("%d drops logged, want %d:\n%s", len(drops), want, strings.Join(drops, "\n"))
	}
}
