package discord

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	long := strings.Repeat("word ", 900)     // 4500 characters
	lines := strings.Repeat("a line\n", 600) // 4200 characters
	runes := strings.Repeat("ж", 4100)       // no breaks, two bytes each
	for _, text := range []string{"short", long, lines, runes} {
		parts := split(text, maxMessage)
		if strings.Join(parts, "") != text {
			t.Fatalf("parts of %.20q… do not add up", text)
		}
		for i, p := range parts {
			if n := utf8.RuneCountInString(p); n > maxMessage || n == 0 || !utf8.ValidString(p) {
				t.Fatalf("part %d of %.20q…: %d characters", i, text, n)
			}
		}
	}
	if parts := split(lines, maxMessage); !strings.HasSuffix(parts[0], "\n") {
		t.Fatalf("not split at a line end: %q", parts[0][len(parts[0])-10:])
	}
}
