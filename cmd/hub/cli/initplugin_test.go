package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the hub checkout this test runs in: the nearest directory up
// from the working directory with the hub's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/hubhq/hub\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no hub go.mod above the working directory")
		}
		dir = parent
	}
}

func TestInitPluginFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mod")
	code, out, errs := run(context.Background(), "init", "plugin", "greeter", "--module", "example.com/me/greeter", "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	want := map[string][]string{
		"go.mod":          {"module example.com/me/greeter\n", "require github.com/hubhq/hub "},
		"greeter.go":      {"package greeter\n", `plugins.Register("greeter", New())`},
		"greeter_test.go": {"package greeter_test\n", "hubtest.Chat(t, app())", `"example.com/me/greeter"`},
		"cmd/hub/main.go": {`_ "github.com/hubhq/hub/plugins/echo"`, `_ "example.com/me/greeter"`, "cli.Main()"},
		"hub.yaml":        {"consumer: greeter"},
		"README.md":       {"go test ./...", "go build -o hub ./cmd/hub", "./hub chat --consumer greeter"},
		".gitignore":      {"/hub\n"},
	}
	for name, parts := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		for _, p := range parts {
			if !strings.Contains(string(b), p) {
				t.Errorf("%s lacks %q:\n%s", name, p, b)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); strings.Contains(string(b), "replace") {
		t.Errorf("go.mod has a replace without --hub-replace:\n%s", b)
	}
	// A second run would overwrite: refused.
	if code, _, errs := run(context.Background(), "init", "plugin", "greeter", "--dir", dir); code != 2 || !strings.Contains(errs, "not empty") {
		t.Errorf("init into a non-empty dir: exit %d %s", code, errs)
	}
}

func TestInitPluginUsage(t *testing.T) {
	for _, args := range [][]string{
		{"init", "plugin"},
		{"init", "plugin", "Bad-Name"},
		{"init", "plugin", "ok", "--hub-replace", t.TempDir()},
	} {
		if code, _, _ := run(context.Background(), args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestInitPluginBuilds builds the scaffold against this checkout and talks
// to the plugin through its own hub binary.
func TestInitPluginBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module: ~60 s")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "greeter")
	code, out, errs := run(ctx, "init", "plugin", "greeter", "--dir", dir, "--hub-replace", repoRoot(t))
	if code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); !strings.Contains(string(b), "replace github.com/hubhq/hub => ") {
		t.Fatalf("go.mod has no replace:\n%s", b)
	}
	goCmd := func(stdin string, args ...string) string {
		t.Helper()
		c := exec.CommandContext(ctx, args[0], args[1:]...)
		c.Dir = dir
		c.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false -tags=libsqlite3", "GOWORK=off")
		c.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	goCmd("", "go", "mod", "tidy")
	goCmd("", "go", "test", "./...")
	goCmd("", "go", "build", "-o", "hub", "./cmd/hub")
	got := goCmd("hello\n", "./hub", "chat", "--consumer", "greeter", "--as", "ada")
	if want := "Hello from greeter!\ngreeter heard: hello\n"; got != want {
		t.Fatalf("hub chat = %q, want %q", got, want)
	}
}
