package core

import (
	"slices"
	"testing"
)

func TestGroupSet(t *testing.T) {
	var g groupSet
	for _, name := range []string{"a", "b", "a", "c"} {
		g.add(name)
	}
	g.remove("a")
	g.remove("missing")
	if got := g.drain(); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("drain = %q, want [b c]", got)
	}
	if got := g.drain(); len(got) != 0 {
		t.Errorf("second drain = %q, want none", got)
	}
	var none *groupSet // a scope the runtime did not start
	none.add("a")
	none.remove("a")
}
