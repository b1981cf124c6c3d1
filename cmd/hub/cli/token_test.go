package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubhq/hub/store"
)

const testToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// hubToken runs `hub token args…` with input on stdin (a pipe).
func hubToken(t *testing.T, input string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.WriteString(input) //nolint:errcheck
		w.Close()
	}()
	var out, errb bytes.Buffer
	cmd := tokenCommand()
	cmd.SetArgs(args)
	cmd.SetIn(r)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		return exitCode(err), out.String(), errb.String() + err.Error()
	}
	return 0, out.String(), errb.String()
}

func TestHubToken(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("store: hub.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	run := func(wantCode int, input string, args ...string) string {
		t.Helper()
		code, out, errOut := hubToken(t, input, append(args, "--config", cfg)...)
		seen.WriteString(out + errOut)
		if code != wantCode {
			t.Fatalf("hub token %s = exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out + errOut
	}

	run(0, testToken+"\n", "add", "telegram", "support")
	run(0, "456:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "add", "telegram", "alerts")
	out := run(0, "", "list")
	if !strings.Contains(out, "alerts") || !strings.Contains(out, "support  telegram") || !strings.Contains(out, "set") {
		t.Fatalf("list:\n%s", out)
	}
	db, err := store.Open(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	if tok, platform, err := db.TokenGet(t.Context(), "support"); tok != testToken || platform != "telegram" || err != nil {
		t.Fatalf("stored token %v, %v (matches: %v)", platform, err, tok == testToken)
	}
	db.Close()

	run(0, "", "remove", "support")
	if out := run(2, "", "remove", "support"); !strings.Contains(out, `no token is registered for "support"`) {
		t.Fatalf("remove twice: %s", out)
	}
	// Refusals, none of which may show the token.
	run(2, "", "add", "telegram", "x", testToken)   // on the command line
	run(2, "", "add", "telegram", "x")              // nothing on stdin
	run(2, "not-a-token\n", "add", "telegram", "x") // the wrong paste
	run(2, testToken+"\n", "add", "icq", "x")       // unknown platform
	if strings.Contains(seen.String(), testToken) || strings.Contains(seen.String(), testToken[10:]) {
		t.Fatalf("the token was printed:\n%s", seen.String())
	}
	if out := run(0, "", "list"); strings.Contains(out, "support") {
		t.Fatalf("removed token still listed:\n%s", out)
	}
}
