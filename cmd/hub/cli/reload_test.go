package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/cmd/hub/cli"
	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/internal/syncbuf"
)

// waitLog waits until logs contain want.
func waitLog(t *testing.T, logs *syncbuf.Buffer, want string) {
	t.Helper()
	if !poll.Wait(20*time.Second, func() bool { return strings.Contains(logs.String(), want) }) {
		t.Fatalf("no %q in:\n%s", want, logs.String())
	}
}

// TestReload runs `hub run` in this process and `hub reload` beside it:
// the hub finds its pid file, reloads on the signal, and a config with
// errors is refused before anything is sent.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	const head = "listen: 127.0.0.1:0\nstore: ./hub.db\nroutes:\n  websocket:\n    - {path: \"/ws/chat/{room}/\", consumer: chatroom}\n"
	cfg := writeFile(t, dir, "hub.yaml", head)
	pidFile := filepath.Join(dir, "hub.db.pid")

	code, _, errOut := run(context.Background(), "reload", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "hub: reload: no hub is running with the store") {
		t.Errorf("reload without a hub: exit %d, stderr:\n%s", code, errOut)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, logs syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- cli.Run(ctx, []string{"run", "--config", cfg}, &out, &logs) }()
	waitLog(t, &logs, "msg=listening")
	if b, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("pid file = %q, %v; want this process' pid", b, err)
	}

	writeFile(t, dir, "hub.yaml", head+"    - {path: \"/ws/other/{room}/\", consumer: chatroom}\n")
	code, stdout, errOut := run(context.Background(), "reload", "--config", cfg)
	if code != 0 || !strings.Contains(stdout, "is reloading") {
		t.Fatalf("reload: exit %d\nstdout: %s\nstderr: %s", code, stdout, errOut)
	}
	waitLog(t, &logs, `routes_added="websocket /ws/other/{room}/ → chatroom"`)

	writeFile(t, dir, "hub.yaml", head+"    - {path: /ws/x/, consumer: nope}\n")
	code, _, errOut = run(context.Background(), "reload", "--config", cfg)
	if code != 2 || !strings.Contains(errOut, cfg+":6:") {
		t.Errorf("reload of a broken config: exit %d, stderr:\n%s\nwant exit 2 at line 6", code, errOut)
	}

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("hub run exit %d:\n%s", code, logs.String())
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left after the hub stopped: %v", err)
	}

	writeFile(t, dir, "hub.yaml", head)
	writeFile(t, dir, "hub.db.pid", "999999\n") // as a crashed hub leaves it
	code, _, errOut = run(context.Background(), "reload", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "left from one that stopped") {
		t.Errorf("reload with a stale pid file: exit %d, stderr:\n%s", code, errOut)
	}
}

// TestRunRefusesSecondHub: a second `hub run` on the same store stops at
// the pid file instead of sharing the store.
func TestRunRefusesSecondHub(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "hub.yaml", "listen: 127.0.0.1:0\nstore: ./hub.db\n")
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- cli.Run(ctx, []string{"run", "--config", cfg}, &out, &logs) }()
	defer func() { cancel(); <-done }()
	waitLog(t, &logs, "msg=listening")

	code, _, errOut := run(context.Background(), "run", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "another hub runs with the store") {
		t.Errorf("second hub run: exit %d, stderr:\n%s", code, errOut)
	}
}
