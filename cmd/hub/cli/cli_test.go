package cli_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/cmd/hub/cli"
	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/internal/syncbuf"
	_ "github.com/hubhq/hub/plugins/chatroom"
)

// run runs the command line in-process.
func run(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb syncbuf.Buffer
	code = cli.Run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", "routes:\n  websocket:\n    - {path: \"/ws/{room}/\", consumer: chatroom}\n")
	bad := writeFile(t, dir, "bad.yaml", "listen: 127.0.0.1:0\nroutes:\n  websocket:\n    - path: /ws/{room}/\n      consumer: nope\n")
	tests := []struct {
		name       string
		args       []string
		code       int
		out, errIn string
	}{
		{"version", []string{"version"}, 0, "hub dev (go", ""},
		{"routes", []string{"routes", "--config", good}, 0, "websocket  /ws/{room}/  -    chatroom", ""},
		{"routes, bad config", []string{"routes", "-c", bad}, 2, "", "hub: " + bad + `:5: routes.websocket[0].consumer: unknown consumer "nope"`},
		{"run, bad config", []string{"run", "--config", bad}, 2, "", "hub: " + bad + ":5:"},
		{"run, missing config", []string{"run", "--config", filepath.Join(dir, "none.yaml")}, 2, "", "none.yaml: no such file"},
		{"unknown command", []string{"frobnicate"}, 2, "", `hub: unknown command "frobnicate"`},
		{"unknown flag", []string{"run", "--nope"}, 2, "", "hub: unknown flag: --nope"},
		{"extra argument", []string{"routes", "x"}, 2, "", "hub: unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(context.Background(), tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.errIn) {
				t.Errorf("hub %s = exit %d\nstdout: %s\nstderr: %s\nwant exit %d, stdout with %q, stderr with %q",
					strings.Join(tt.args, " "), code, out, errOut, tt.code, tt.out, tt.errIn)
			}
		})
	}
}

// TestConfigDiscovery: without --config, ./hub.yaml is used if present,
// else the built-in defaults.
func TestConfigDiscovery(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, out, _ := run(context.Background(), "routes"); !strings.Contains(out, "/ws/chat/{room}/") {
		t.Errorf("routes with no config:\n%s\nwant the default chat room", out)
	}
	writeFile(t, ".", "hub.yaml", "routes:\n  websocket:\n    - {path: \"/local/\", consumer: chatroom}\n")
	if _, out, _ := run(context.Background(), "routes"); !strings.Contains(out, "/local/") {
		t.Errorf("routes with ./hub.yaml:\n%s\nwant its route", out)
	}
}

// TestRunStopsCleanly: `hub run` serves until its context ends and exits 0.
func TestRunStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "hub.yaml", "listen: 127.0.0.1:0\nstore: ./hub.db\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, logs syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- cli.Run(ctx, []string{"run", "--config", cfg}, &out, &logs) }()

	if !poll.Wait(20*time.Second, func() bool { return strings.Contains(logs.String(), "msg=listening") }) {
		t.Fatalf("no listening line in:\n%s", logs.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after cancel, want 0\n%s", code, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("hub run did not return after cancel")
	}
	if _, err := os.Stat(filepath.Join(dir, "hub.db")); err != nil {
		t.Errorf("store not created beside the config: %v", err)
	}
}

// TestRunFailure: a hub that cannot serve exits 1.
func TestRunFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "hub.yaml", "listen: "+ln.Addr().String()+"\nstore: ./hub.db\n")
	code, _, errOut := run(context.Background(), "run", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "address already in use") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and the listen error", code, errOut)
	}
}

// TestStoreFailure: a store that cannot be opened is a failure (1), not a
// config mistake (2).
func TestStoreFailure(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "hub.yaml", "listen: 127.0.0.1:0\nstore: ./missing/dir/hub.db\n")
	code, _, errOut := run(context.Background(), "run", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "hub: server: open store") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and the store error", code, errOut)
	}
}
