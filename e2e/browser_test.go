package e2e

import (
	"context"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/internal/servertest"
)

const chromium = "/usr/bin/chromium"

// browser starts a headless chromium for the test and returns the context
// of its first tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		servertest.Missing(t, "%s (apt-get install -y chromium): %v", chromium, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a container has no user namespace sandbox
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return tab
}

// joinRoom opens the chat page and joins room as user.
func joinRoom(base, room, user string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.ID("join")),
		chromedp.SetValue(chromedp.ID("room"), room),
		chromedp.SetValue(chromedp.ID("user"), user),
		chromedp.Click(chromedp.ID("join")),
		chromedp.WaitEnabled(chromedp.ID("message")), // enabled once the socket is open
	)
}

// logLine selects the line of the chat log that contains text.
func logLine(text string) chromedp.Search {
	return chromedp.Search(`//div[@id="log"]/div[@class="msg" and contains(., "` + text + `")]`)
}

// TestBrowserChat drives the bundled chat page in two tabs of a real
// browser: what tab A sends appears in tab B's log.
func TestBrowserChat(t *testing.T) {
	tabA := browser(t)
	h := startHub(t, chatConfig(t, t.TempDir()))
	base := "http://" + h.Addr + "/"

	tabB, cancelB := chromedp.NewContext(tabA) // a second tab in the same browser
	t.Cleanup(cancelB)
	if err := chromedp.Do(tabA, joinRoom(base, "lobby", "A")); err != nil {
		t.Fatalf("tab A joining lobby: %v", err)
	}
	if err := chromedp.Do(tabB, joinRoom(base, "lobby", "B")); err != nil {
		t.Fatalf("tab B joining lobby: %v", err)
	}
	if err := chromedp.Do(tabA,
		chromedp.SendKeys(chromedp.ID("message"), "hello from A"),
		chromedp.Click(chromedp.ID("send")),
	); err != nil {
		t.Fatalf("tab A sending: %v", err)
	}
	// WaitVisible polls the DOM until the line arrives (or ctx ends).
	if err := chromedp.Do(tabB, chromedp.WaitVisible(logLine("hello from A"))); err != nil {
		t.Fatalf("tab B waiting for the message: %v", err)
	}
	line, err := chromedp.Run(tabB, chromedp.Text(logLine("hello from A")))
	if err != nil {
		t.Fatalf("tab B reading the message: %v", err)
	}
	if line != "A: hello from A" {
		t.Errorf("tab B shows %q, want %q", line, "A: hello from A")
	}
}

// logLines reads the chat log's lines, each as "<data-id> <text>".
func logLines(tab context.Context) ([]string, error) {
	return chromedp.Run(tab, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#log > div.msg")].map((d) => (d.dataset.id || "") + " " + d.textContent)`))
}

// TestBrowserEditInPlace drives the chat page in a real browser while the
// test speaks in the room's group on a shared Redis layer, as a bridge or
// another process would: an edit changes the line with its id in place,
// marked edited; an edit of a line the page never had is a line of its
// own; a deletion removes the line. A line typed on the page carries its
// history id.
func TestBrowserEditInPlace(t *testing.T) {
	tab := browser(t)
	url := startRedis(t)
	h := startHub(t, layerChatConfig(t, t.TempDir(), url))
	room := redisLayer(t, url)
	group := func(msg layer.Message) {
		t.Helper()
		if err := room.GroupSend(t.Context(), "chat_lobby", msg); err != nil {
			t.Fatal(err)
		}
	}
	expectLog := func(what string, wait chromedp.Action[chromedp.Void], want ...string) {
		t.Helper()
		if err := chromedp.Do(tab, wait); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		got, err := logLines(tab)
		if err != nil {
			t.Fatalf("reading the log: %v", err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("after %s the log reads %q, want %q", what, got, want)
		}
	}
	if err := chromedp.Do(tab, joinRoom("http://"+h.Addr+"/", "lobby", "A")); err != nil {
		t.Fatalf("joining lobby: %v", err)
	}
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.ID("message"), "mine"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(logLine("A: mine")),
	); err != nil {
		t.Fatalf("sending a line: %v", err)
	}
	lines, err := logLines(tab)
	if err != nil || len(lines) != 1 || !regexp.MustCompile(`^[0-9a-f]{16} A: mine$`).MatchString(lines[0]) {
		t.Fatalf("the log reads %q (%v), want the typed line with its history id", lines, err)
	}
	mine := lines[0]

	group(layer.Message{"type": "chat.message", "id": "p1", "message": "teh plan", "user": "bob", "room": "lobby"})
	group(layer.Message{"type": "chat.message", "id": "p2", "message": "stays", "user": "bob", "room": "lobby"})
	expectLog("two lines", chromedp.WaitVisible(logLine("bob: stays")),
		mine, "p1 bob: teh plan", "p2 bob: stays")

	group(layer.Message{"type": "chat.edited", "id": "p1", "message": "the plan", "user": "bob", "room": "lobby"})
	expectLog("an edit", chromedp.WaitVisible(logLine("bob: the plan (edited)")),
		mine, "p1 bob: the plan (edited)", "p2 bob: stays")

	group(layer.Message{"type": "chat.edited", "id": "gone", "message": "from before", "user": "bob", "room": "lobby"})
	expectLog("an edit of a line the page never had", chromedp.WaitVisible(logLine("bob: from before (edited)")),
		mine, "p1 bob: the plan (edited)", "p2 bob: stays", "gone bob: from before (edited)")

	group(layer.Message{"type": "chat.deleted", "id": "p1", "room": "lobby"})
	expectLog("a deletion", chromedp.WaitNotPresent(logLine("the plan")),
		mine, "p2 bob: stays", "gone bob: from before (edited)")
}
