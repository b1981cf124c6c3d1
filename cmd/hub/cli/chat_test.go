package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/hubhq/hub/plugins/chatroom"
	_ "github.com/hubhq/hub/plugins/echo"
)

// hubChat runs `hub chat args…` with input written through an OS pipe, as a
// shell pipeline would, and returns its exit code and output.
func hubChat(t *testing.T, input string, args ...string) (int, string, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.WriteString(input) //nolint:errcheck // a failure shows as missing answers
		w.Close()
	}()
	var out, errb bytes.Buffer
	cmd := chatCommand()
	cmd.SetArgs(args)
	cmd.SetIn(r)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		return exitCode(err), out.String(), err.Error()
	}
	return 0, out.String(), errb.String()
}

func TestHubChat(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("store: hub.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := hubChat(t, "hello\n/name Ada\n", "--config", cfg, "--as", "ada")
	if want := "[Welcome Anonymous!]\nYou said: hello\n[set your username to Ada]\n"; code != 0 || out != want {
		t.Fatalf("hub chat = %d\nstdout: %q\nstderr: %s\nwant %q", code, out, errOut, want)
	}
	// The name is in the store: the next run remembers it.
	code, out, _ = hubChat(t, "again\n", "--config", cfg, "--as", "ada")
	if want := "[Welcome Ada!]\nAda: You said: again\n"; code != 0 || out != want {
		t.Fatalf("second hub chat = %d, %q; want %q", code, out, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "hub.db")); err != nil {
		t.Fatalf("the config's store was not used: %v", err)
	}
}

func TestHubChatConsumers(t *testing.T) {
	dir := t.TempDir()
	routed := filepath.Join(dir, "routed.yaml")
	if err := os.WriteFile(routed, []byte("store: hub.db\nroutes:\n  telegram:\n    - {bot: support, consumer: nope}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.yaml")
	if err := os.WriteFile(plain, []byte("store: hub.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := hubChat(t, "", "--config", plain, "--consumer", "nope"); code != ExitUsage || !strings.Contains(errOut, `unknown consumer "nope"`) {
		t.Errorf("--consumer nope: exit %d, %s", code, errOut)
	}
	// An unknown routed consumer is refused where the config names it
	// (by the config's own validation, or by hub chat).
	if code, _, errOut := hubChat(t, "", "--config", routed); code != ExitUsage || !strings.Contains(errOut, "routes.telegram[0].consumer") {
		t.Errorf("routed nope: exit %d, %s", code, errOut)
	}
}
