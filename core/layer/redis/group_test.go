package redis

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestGroupScriptShards checks that groupScript's CRC-32 in Lua splits a
// group's members between hosts exactly as consistentHash does: members of
// the group's host are written there, the others handed back.
func TestGroupScriptShards(t *testing.T) {
	a, b := startServer(t), startServer(t)
	l := newTestLayer(t, Options{Hosts: []string{a.url(), b.url()}})
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()

	const group = "shards"
	var wantOther, wantHere []string
	h := consistentHash(group, len(l.hosts))
	for i := range 64 {
		ch := fmt.Sprintf("specific.peer%d!x", i)
		if i%8 == 0 {
			ch = fmt.Sprintf("worker-%d", i) // fixed names are sharded too
		}
		if err := l.GroupAdd(ctx, group, ch); err != nil {
			t.Fatal(err)
		}
		if consistentHash(nonLocalName(ch), len(l.hosts)) == h {
			wantHere = append(wantHere, ch)
		} else {
			wantOther = append(wantOther, ch)
		}
	}
	if len(wantHere) == 0 || len(wantOther) == 0 {
		t.Fatalf("names all on one host (%d here, %d other): pick others", len(wantHere), len(wantOther))
	}
	head, err := l.codec.encodeHead(map[string]any{"type": "t"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	res, err := groupScript.Run(ctx, l.hosts[h], []string{l.groupKey(group)},
		l.prefix, "."+l.client+"!", head, score(now), score(now.Add(-time.Hour)),
		score(now.Add(-time.Minute)), 100, 70, len(l.hosts), h, 1000).Slice()
	if err != nil {
		t.Fatal(err)
	}
	other := strs(res[4])
	slices.Sort(other)
	slices.Sort(wantOther)
	if !slices.Equal(other, wantOther) {
		t.Errorf("handed back %q, want %q", other, wantOther)
	}
	if got := res[1].(int64); got != int64(len(wantHere)) {
		t.Errorf("delivered %d, want %d", got, len(wantHere))
	}
	for _, ch := range wantHere {
		n, err := l.hosts[h].ZCard(ctx, l.key(ch)).Result()
		if err != nil || n != 1 {
			t.Errorf("%s: %d members on the group's host (%v), want 1", ch, n, err)
		}
	}

	// Above its limit the script only reads the group.
	res, err = groupScript.Run(ctx, l.hosts[h], []string{l.groupKey(group)},
		l.prefix, "."+l.client+"!", head, score(now), score(now.Add(-time.Hour)),
		score(now.Add(-time.Minute)), 100, 70, len(l.hosts), h, 10).Slice()
	if err != nil {
		t.Fatal(err)
	}
	if got := strs(res[4]); len(got) != 64 || res[1].(int64) != 0 {
		t.Errorf("large group: %d members handed back, %d delivered; want 64, 0", len(got), res[1])
	}
}

// TestLargeGroup sends twice to a group above groupScriptMax: the first
// send goes through the script's read-only branch, the second through the
// plain read; every member gets both, in order.
func TestLargeGroup(t *testing.T) {
	s := startServer(t)
	l := newTestLayer(t, Options{Hosts: []string{s.url()}})
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	chans := make([]string, groupScriptMax+20)
	for i := range chans {
		ch, err := l.NewChannel(ctx, "specific")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.GroupAdd(ctx, "big", ch); err != nil {
			t.Fatal(err)
		}
		chans[i] = ch
	}
	for n := range 2 {
		if err := l.GroupSend(ctx, "big", map[string]any{"type": "t", "n": n}); err != nil {
			t.Fatal(err)
		}
	}
	if !l.isLarge("big") {
		t.Error("group not remembered as large")
	}
	for _, ch := range chans {
		for n := range 2 {
			m, err := l.Receive(ctx, ch)
			if err != nil {
				t.Fatalf("%s: %v", ch, err)
			}
			if fmt.Sprint(m["n"]) != fmt.Sprint(n) {
				t.Fatalf("%s: got %v, want n=%d", ch, m, n)
			}
		}
	}
}
