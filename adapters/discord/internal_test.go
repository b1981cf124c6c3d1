package discord

import (
	"net/http"
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

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRedirect(t *testing.T) {
	rt, err := transport("http://127.0.0.1:8081/proxy/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	r := rt.(redirect)
	r.next = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		got = append(got, req.URL.String()+" host="+req.Host)
		return &http.Response{StatusCode: 204, Body: http.NoBody}, nil
	})
	for _, u := range []string{
		"https://discord.com/api/v9/channels/1/messages/2/reactions/%F0%9F%91%8D/@me",
		"https://cdn.discordapp.com/avatars/1/x.png", // not the API: untouched
	} {
		req, _ := http.NewRequest("PUT", u, nil)
		r.RoundTrip(req)
	}
	want := []string{
		"http://127.0.0.1:8081/proxy/api/v9/channels/1/messages/2/reactions/%F0%9F%91%8D/@me host=127.0.0.1:8081",
		"https://cdn.discordapp.com/avatars/1/x.png host=cdn.discordapp.com",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests went to\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseIntents(t *testing.T) {
	got, err := ParseIntents([]string{"guild_messages", "Direct_Messages", " message_content ", "guild_message_reactions", "direct_message_reactions"})
	if err != nil || got != DefaultIntents {
		t.Fatalf("ParseIntents = %b, %v; want the defaults %b", got, err, DefaultIntents)
	}
	if got, err := ParseIntents(nil); got != 0 || err != nil {
		t.Fatalf("no names: %b, %v", got, err)
	}
	if _, err := ParseIntents([]string{"guild_mesages"}); err == nil || !strings.Contains(err.Error(), "guild_messages") {
		t.Fatalf("a typo: %v", err)
	}
}
