package layertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/internal/poll"
)

// Options are the settings the layer given to Run must use: capacities small
// enough to fill and expiries short enough to wait out.
var Options = layer.Options{
	Capacity:        5,
	ChannelCapacity: map[string]int{"lt-small.*": 2},
	Expiry:          2 * time.Second,
	GroupExpiry:     2 * time.Second,
}

// quiet is how long a Receive must stay empty to count as "nothing arrived".
// It only bounds how long the suite waits for a message that must not come.
const quiet = 300 * time.Millisecond

// patience bounds every wait for something that must happen.
const patience = 10 * time.Second

// Run runs the conformance suite. newLayer is called once per subtest and
// must return a fresh layer configured with Options; Run closes it.
func Run(t *testing.T, newLayer func(t *testing.T) layer.Layer) {
	tests := []struct {
		name string
		fn   func(t *testing.T, l layer.Layer)
	}{
		{"FIFO", testFIFO},
		{"FixedNameFIFO", testFixedNameFIFO},
		{"Capacity", testCapacity},
		{"ChannelCapacityPattern", testChannelCapacityPattern},
		{"GroupSendSkipsFull", testGroupSendSkipsFull},
		{"GroupAddDiscard", testGroupAddDiscard},
		{"Expiry", testExpiry},
		{"GroupExpiry", testGroupExpiry},
		{"NewChannel", testNewChannel},
		{"InvalidNames", testInvalidNames},
		{"NoType", testNoType},
		{"LargeMessage", testLargeMessage},
		{"Values", testValues},
		{"Flush", testFlush},
		{"ConcurrentReceivers", testConcurrentReceivers},
		{"ConcurrentReceiversFixedName", testConcurrentReceiversFixedName},
		{"Watch", testWatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLayer(t)
			t.Cleanup(func() {
				if err := l.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, l)
		})
	}
}

// Listen declares interest in a fixed-name channel before anything is sent
// to it: a Receive that returns at once. Storing backends ignore it; NATS
// starts buffering the channel. Call it only on an empty channel.
func Listen(t testing.TB, l layer.Layer, channel string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if msg, err := l.Receive(ctx, channel); err == nil {
		t.Fatalf("Listen(%s): got %v from an empty channel", channel, msg)
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("Listen(%s): %v", channel, err)
	}
}

// Name returns a name unique to this run: base + "." + random hex.
func Name(base string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base + "." + hex.EncodeToString(b[:])
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

func newChannel(t testing.TB, l layer.Layer, prefix string) string {
	t.Helper()
	ch, err := l.NewChannel(ctxT(t), prefix)
	if err != nil {
		t.Fatalf("NewChannel(%q): %v", prefix, err)
	}
	return ch
}

func msg(typ string, n int) layer.Message { return layer.Message{"type": typ, "n": n} }

func send(t testing.TB, l layer.Layer, ch string, m layer.Message) {
	t.Helper()
	if err := l.Send(ctxT(t), ch, m); err != nil {
		t.Fatalf("Send(%s, type %q): %v", ch, m.Type(), err)
	}
}

func groupSend(t testing.TB, l layer.Layer, group string, m layer.Message) {
	t.Helper()
	if err := l.GroupSend(ctxT(t), group, m); err != nil {
		t.Fatalf("GroupSend(%s, type %q): %v", group, m.Type(), err)
	}
}

func groupAdd(t testing.TB, l layer.Layer, group, ch string) {
	t.Helper()
	if err := l.GroupAdd(ctxT(t), group, ch); err != nil {
		t.Fatalf("GroupAdd(%s, %s): %v", group, ch, err)
	}
}

// receive waits for the next message on ch and checks its type and "n".
func receive(t testing.TB, l layer.Layer, ch, typ string, n int) layer.Message {
	t.Helper()
	m, err := l.Receive(ctxT(t), ch)
	if err != nil {
		t.Fatalf("Receive(%s): %v (want %s #%d)", ch, err, typ, n)
	}
	if m.Type() != typ || intOf(m["n"]) != int64(n) {
		t.Fatalf("Receive(%s) = type %q n %v, want type %s n %d", ch, m.Type(), m["n"], typ, n)
	}
	return m
}

// expectNothing checks that no message arrives on ch within quiet.
func expectNothing(t testing.TB, l layer.Layer, ch string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), quiet)
	defer cancel()
	m, err := l.Receive(ctx, ch)
	if err == nil {
		t.Fatalf("Receive(%s) = type %q n %v, want nothing", ch, m.Type(), m["n"])
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive(%s): %v, want context.DeadlineExceeded", ch, err)
	}
}

// intOf normalises the integer types a decoder may produce.
func intOf(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int8:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	case uint64:
		return int64(n)
	case float64:
		return int64(n)
	}
	return -1
}

// waitPast blocks until d has passed since start: expiry tests wait out a
// known duration, not a guess.
func waitPast(start time.Time, d time.Duration) {
	<-time.After(time.Until(start.Add(d)))
}

func testFIFO(t *testing.T, l layer.Layer) {
	ch := newChannel(t, l, "specific")
	for i := range 5 {
		send(t, l, ch, msg("test.fifo", i))
	}
	for i := range 5 {
		receive(t, l, ch, "test.fifo", i)
	}
	expectNothing(t, l, ch)
	if sr, ok := l.(layer.StatsReporter); ok && sr.Stats().Sent < 5 {
		t.Errorf("Stats().Sent = %d after 5 sends", sr.Stats().Sent)
	}
}

func testFixedNameFIFO(t *testing.T, l layer.Layer) {
	ch := Name("lt-fixed")
	Listen(t, l, ch)
	for i := range 5 {
		send(t, l, ch, msg("test.fifo", i))
	}
	for i := range 5 {
		receive(t, l, ch, "test.fifo", i)
	}
}

// fill sends to ch until it is full, checking that this happens after
// exactly want messages and that the refusal is ErrChannelFull.
func fill(t *testing.T, l layer.Layer, ch string, want int) {
	t.Helper()
	for i := range want {
		send(t, l, ch, msg("test.fill", i))
	}
	err := l.Send(ctxT(t), ch, msg("test.fill", want))
	if !errors.Is(err, layer.ErrChannelFull) {
		t.Fatalf("Send #%d to %s (capacity %d): %v, want ErrChannelFull", want+1, ch, want, err)
	}
}

func testCapacity(t *testing.T, l layer.Layer) {
	ch := newChannel(t, l, "specific")
	fill(t, l, ch, Options.Capacity)
	receive(t, l, ch, "test.fill", 0)
	send(t, l, ch, msg("test.fill", 99)) // a slot freed up
	if sr, ok := l.(layer.StatsReporter); ok && sr.Stats().Full < 1 {
		t.Errorf("Stats().Full = %d after a refused Send", sr.Stats().Full)
	}
}

func testChannelCapacityPattern(t *testing.T, l layer.Layer) {
	small := Name("lt-small")
	Listen(t, l, small)
	fill(t, l, small, 2)
	fill(t, l, newChannel(t, l, "lt-small"), 2)
	big := Name("lt-big")
	Listen(t, l, big)
	fill(t, l, big, Options.Capacity)
}

func testGroupSendSkipsFull(t *testing.T, l layer.Layer) {
	full, free := newChannel(t, l, "specific"), newChannel(t, l, "specific")
	group := Name("lt-group")
	groupAdd(t, l, group, full)
	groupAdd(t, l, group, free)
	fill(t, l, full, Options.Capacity)
	groupSend(t, l, group, msg("test.group", 7))
	receive(t, l, free, "test.group", 7)
	for i := range Options.Capacity {
		receive(t, l, full, "test.fill", i)
	}
	expectNothing(t, l, full)
	if sr, ok := l.(layer.StatsReporter); ok {
		poll.Until(t, patience, "Stats().GroupDrop >= 1", func() bool { return sr.Stats().GroupDrop >= 1 })
	}
}

func testGroupAddDiscard(t *testing.T, l layer.Layer) {
	a, b := newChannel(t, l, "specific"), newChannel(t, l, "specific")
	group := Name("lt-group")
	groupAdd(t, l, group, a)
	groupAdd(t, l, group, b)
	groupAdd(t, l, group, b) // adding twice is one membership
	groupSend(t, l, group, msg("test.group", 1))
	receive(t, l, a, "test.group", 1)
	receive(t, l, b, "test.group", 1)
	if err := l.GroupDiscard(ctxT(t), group, b); err != nil {
		t.Fatalf("GroupDiscard: %v", err)
	}
	if err := l.GroupDiscard(ctxT(t), group, newChannel(t, l, "specific")); err != nil {
		t.Fatalf("GroupDiscard of a non-member: %v", err)
	}
	groupSend(t, l, group, msg("test.group", 2))
	receive(t, l, a, "test.group", 2)
	expectNothing(t, l, b)
	// A group with no members takes sends quietly.
	groupSend(t, l, Name("lt-empty"), msg("test.group", 3))
}

func testExpiry(t *testing.T, l layer.Layer) {
	ch := newChannel(t, l, "specific")
	start := time.Now()
	send(t, l, ch, msg("test.expiry", 1))
	waitPast(start, Options.Expiry+500*time.Millisecond)
	send(t, l, ch, msg("test.expiry", 2))
	receive(t, l, ch, "test.expiry", 2)
	if sr, ok := l.(layer.StatsReporter); ok {
		poll.Until(t, patience, "Stats().Expired >= 1", func() bool { return sr.Stats().Expired >= 1 })
	}
	// An expired message also frees its slot.
	for i := range Options.Capacity {
		send(t, l, ch, msg("test.expiry", 10+i))
	}
}

func testGroupExpiry(t *testing.T, l layer.Layer) {
	old, fresh := newChannel(t, l, "specific"), newChannel(t, l, "specific")
	group := Name("lt-group")
	start := time.Now()
	groupAdd(t, l, group, old)
	waitPast(start, Options.GroupExpiry+500*time.Millisecond)
	groupAdd(t, l, group, fresh)
	groupSend(t, l, group, msg("test.group", 1))
	receive(t, l, fresh, "test.group", 1)
	expectNothing(t, l, old)
}

func testNewChannel(t *testing.T, l layer.Layer) {
	seen := make(map[string]bool)
	for range 50 {
		ch := newChannel(t, l, "specific")
		if err := layer.ValidChannelName(ch); err != nil {
			t.Fatalf("NewChannel gave an invalid name: %v", err)
		}
		if !strings.HasPrefix(ch, "specific.") || !strings.Contains(ch, "!") {
			t.Fatalf("NewChannel = %q, want specific.…!…", ch)
		}
		if seen[ch] {
			t.Fatalf("NewChannel repeated %q", ch)
		}
		seen[ch] = true
	}
	for ch := range seen {
		send(t, l, ch, msg("test.new", 1))
	}
	for ch := range seen {
		receive(t, l, ch, "test.new", 1)
	}
}

func testInvalidNames(t *testing.T, l layer.Layer) {
	ctx := ctxT(t)
	good := newChannel(t, l, "specific")
	m := msg("test.invalid", 1)
	long := strings.Repeat("a", layer.MaxNameLength)
	for _, bad := range []string{"", "has space", "ünïcode", "two!bangs!", long} {
		if err := l.Send(ctx, bad, m); !errors.Is(err, layer.ErrInvalidName) {
			t.Errorf("Send(%q): %v, want ErrInvalidName", bad, err)
		}
		if _, err := l.Receive(ctx, bad); !errors.Is(err, layer.ErrInvalidName) {
			t.Errorf("Receive(%q): %v, want ErrInvalidName", bad, err)
		}
		if err := l.GroupAdd(ctx, "lt-group", bad); !errors.Is(err, layer.ErrInvalidName) {
			t.Errorf("GroupAdd(channel %q): %v, want ErrInvalidName", bad, err)
		}
	}
	for _, bad := range []string{"", "has space", "bang!", long} {
		if err := l.GroupAdd(ctx, bad, good); !errors.Is(err, layer.ErrInvalidName) {
			t.Errorf("GroupAdd(group %q): %v, want ErrInvalidName", bad, err)
		}
		if err := l.GroupDiscard(ctx, bad, good); !errors.Is(err, layer.ErrInvalidName) {
			t.Errorf("GroupDiscard(group %q): %v, want ErrInvalidName", bad, err)
		}
		if err := l.GroupSend(ctx, bad, m); !errors.Is(err, layer.ErrInvalidName) {
			t.Errorf("GroupSend(%q): %v, want ErrInvalidName", bad, err)
		}
	}
}

func testNoType(t *testing.T, l layer.Layer) {
	ctx := ctxT(t)
	ch := newChannel(t, l, "specific")
	for _, m := range []layer.Message{nil, {}, {"text": "hi"}, {"type": ""}, {"type": 3}} {
		if err := l.Send(ctx, ch, m); !errors.Is(err, layer.ErrNoType) {
			t.Errorf("Send(%v): %v, want ErrNoType", m, err)
		}
		if err := l.GroupSend(ctx, "lt-group", m); !errors.Is(err, layer.ErrNoType) {
			t.Errorf("GroupSend(%v): %v, want ErrNoType", m, err)
		}
	}
}

// testLargeMessage sends a message of 1 MiB as encoded (its payload a
// little under, leaving room for the envelope).
func testLargeMessage(t *testing.T, l layer.Layer) {
	payload := make([]byte, 1<<20-1024)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("x", 1<<19)
	for _, ch := range []string{newChannel(t, l, "specific"), Name("lt-large")} {
		if !strings.Contains(ch, "!") {
			Listen(t, l, ch)
		}
		// One at a time: on a loaded machine a queued megabyte could
		// outlive the suite's short expiry.
		send(t, l, ch, layer.Message{"type": "test.large", "n": 1, "data": payload})
		got := receive(t, l, ch, "test.large", 1)
		if b, _ := got["data"].([]byte); !bytes.Equal(b, payload) {
			t.Errorf("%s: data of %d bytes came back as %T of length %d", ch, len(payload), got["data"], len(b))
		}
		send(t, l, ch, layer.Message{"type": "test.large", "n": 2, "text": text})
		got = receive(t, l, ch, "test.large", 2)
		if got["text"] != text {
			t.Errorf("%s: text of %d characters did not round-trip", ch, len(text))
		}
	}
}

// testValues checks that the value kinds a Channels message carries
// round-trip: strings, bytes, numbers, booleans, nil, lists and maps.
func testValues(t *testing.T, l layer.Layer) {
	ch := newChannel(t, l, "specific")
	send(t, l, ch, layer.Message{
		"type": "test.values", "n": 1, "text": "héllo ✓", "bytes": []byte{0, 1, 255},
		"neg": -42, "big": int64(1) << 40, "float": 1.5, "yes": true, "none": nil,
		"list": []any{"a", 2}, "map": map[string]any{"k": "v"},
	})
	got := receive(t, l, ch, "test.values", 1)
	checks := []struct {
		key  string
		want string
	}{
		{"text", "héllo ✓"}, {"bytes", "[0 1 255]"}, {"float", "1.5"}, {"yes", "true"},
		{"none", "<nil>"}, {"list", "[a 2]"}, {"map", "map[k:v]"},
	}
	for _, c := range checks {
		if s := fmt.Sprint(got[c.key]); s != c.want {
			t.Errorf("%s = %s (%T), want %s", c.key, s, got[c.key], c.want)
		}
	}
	if intOf(got["neg"]) != -42 || intOf(got["big"]) != 1<<40 {
		t.Errorf("integers came back as %v (%T), %v (%T)", got["neg"], got["neg"], got["big"], got["big"])
	}
}

func testFlush(t *testing.T, l layer.Layer) {
	a, b := newChannel(t, l, "specific"), newChannel(t, l, "specific")
	group := Name("lt-group")
	groupAdd(t, l, group, a)
	send(t, l, a, msg("test.flush", 1))
	if err := l.Flush(ctxT(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	expectNothing(t, l, a)
	groupAdd(t, l, group, b)
	groupSend(t, l, group, msg("test.flush", 2))
	receive(t, l, b, "test.flush", 2)
	expectNothing(t, l, a)
	// Channels still work after a flush.
	send(t, l, a, msg("test.flush", 3))
	receive(t, l, a, "test.flush", 3)
}

func testConcurrentReceivers(t *testing.T, l layer.Layer) {
	concurrentReceivers(t, l, newChannel(t, l, "specific"))
}

func testConcurrentReceiversFixedName(t *testing.T, l layer.Layer) {
	ch := Name("lt-workers")
	Listen(t, l, ch)
	concurrentReceivers(t, l, ch)
}

// concurrentReceivers runs four receivers on one channel while messages
// are sent to it, and checks that every message arrives exactly once.
func concurrentReceivers(t *testing.T, l layer.Layer, ch string) {
	const receivers, total = 4, 40
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var (
		mu   sync.Mutex
		got  = make(map[int64]int)
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	for range receivers {
		wg.Go(func() {
			for {
				m, err := l.Receive(ctx, ch)
				if err != nil {
					return
				}
				mu.Lock()
				got[intOf(m["n"])]++
				if len(got) == total {
					close(done)
				}
				mu.Unlock()
			}
		})
	}
	for i := 0; i < total; {
		err := l.Send(ctx, ch, msg("test.concurrent", i))
		switch {
		case err == nil:
			i++
		case errors.Is(err, layer.ErrChannelFull):
			<-time.After(5 * time.Millisecond) // receivers drain it
		default:
			t.Fatalf("Send #%d: %v", i, err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	for i := range int64(total) {
		if got[i] != 1 {
			t.Errorf("message %d received %d times", i, got[i])
		}
	}
}

// watcher is the optional interface of layers that say when a channel of
// this process has a message, so the runtime needs no goroutine parked in
// Receive per idle instance (spelled out here, not imported, so the suite
// does not depend on where it is declared).
type watcher interface {
	Watch(channel string, kick func()) (stop func())
	TryReceive(channel string) (layer.Message, bool)
}

func testWatch(t *testing.T, l layer.Layer) {
	w, ok := l.(watcher)
	if !ok {
		t.Skip("the layer has no Watch")
	}
	ch := newChannel(t, l, "specific")
	send(t, l, ch, msg("test.watch", 1))
	kicks := make(chan struct{}, 16)
	stop := w.Watch(ch, func() {
		select {
		case kicks <- struct{}{}:
		default:
		}
	})
	kicked := func(want bool) {
		t.Helper()
		wait := patience
		if !want {
			wait = quiet
		}
		select {
		case <-kicks:
			if !want {
				t.Fatal("kicked after stop")
			}
		case <-time.After(wait):
			if want {
				t.Fatal("never kicked")
			}
		}
	}
	take := func(n int) {
		t.Helper()
		m, ok := w.TryReceive(ch)
		if !ok || intOf(m["n"]) != int64(n) {
			t.Fatalf("TryReceive = %v, %v; want message %d", m, ok, n)
		}
		if m, ok := w.TryReceive(ch); ok {
			t.Fatalf("TryReceive on an empty channel = %v", m)
		}
	}
	kicked(true) // a message was already waiting
	take(1)
	send(t, l, ch, msg("test.watch", 2))
	kicked(true)
	take(2)
	stop()
	send(t, l, ch, msg("test.watch", 3))
	kicked(false)
	receive(t, l, ch, "test.watch", 3)
}

// WatchRemote checks, for a distributed backend, that a message another
// process sends kicks the watcher of this process' channel, and that
// TryReceive then returns it. hub and peer are two layers ("processes") on
// one server; hub must have Watch.
func WatchRemote(t *testing.T, hub, peer layer.Layer) {
	t.Helper()
	w, ok := hub.(watcher)
	if !ok {
		t.Fatalf("%T has no Watch", hub)
	}
	ctx := context.Background()
	ch, _ := hub.NewChannel(ctx, "specific")
	kicks := make(chan struct{}, 1)
	stop := w.Watch(ch, func() {
		select {
		case kicks <- struct{}{}:
		default:
		}
	})
	defer stop()
	if err := peer.Send(ctx, ch, layer.Message{"type": "remote"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kicks:
	case <-time.After(patience):
		t.Fatal("never kicked")
	}
	if m, ok := w.TryReceive(ch); !ok || m.Type() != "remote" {
		t.Fatalf("TryReceive = %v, %v", m, ok)
	}
}
