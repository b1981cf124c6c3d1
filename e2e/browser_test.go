package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

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
