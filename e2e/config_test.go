package e2e

import (
	"strings"
	"testing"
)

// TestBadConfig checks that config mistakes stop the binary with exit code
// 2 and a file:line message, for every command that reads the config.
func TestBadConfig(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string
	}{
		{"unknown consumer", "listen: 127.0.0.1:0\nroutes:\n  websocket:\n    - path: /ws/chat/{room}/\n      consumer: chatrom\n",
			`hub.yaml:5: routes.websocket[0].consumer: unknown consumer "chatrom"`},
		{"unknown key", "listen: 127.0.0.1:0\ninbox:\n  polcy: close\n", `hub.yaml:3: inbox.polcy: unknown key`},
		{"unset variable", "listen: ${HUB_E2E_UNSET_LISTEN}\n", `hub.yaml:1: listen: environment variable HUB_E2E_UNSET_LISTEN is not set`},
		{"yaml syntax", "listen: a\n  b: c\n", `hub.yaml:2: mapping values are not allowed in this context`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeConfig(t, dir, tt.yaml)
			for _, cmd := range []string{"run", "routes"} {
				_, stderr, code := runHub(t, dir, cmd, "--config", path)
				if code != 2 {
					t.Errorf("hub %s: exit code %d, want 2; stderr:\n%s", cmd, code, stderr)
				}
				if !strings.Contains(stderr, "hub: "+path+":") || !strings.Contains(stderr, tt.want) {
					t.Errorf("hub %s: stderr\n%s\nlacks %q (after \"hub: %s:\")", cmd, stderr, tt.want, path)
				}
			}
		})
	}
}

// TestRoutesAndVersion checks the two informational commands.
func TestRoutesAndVersion(t *testing.T) {
	dir := t.TempDir()
	path := chatConfig(t, dir)
	out, stderr, code := runHub(t, dir, "routes", "--config", path)
	if code != 0 {
		t.Fatalf("hub routes: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"PROTOCOL", "websocket  /ws/chat/{room}/", "chatroom", "/healthz", "/metrics"} {
		if !strings.Contains(out, want) {
			t.Errorf("hub routes output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runHub(t, dir, "version")
	if code != 0 || !strings.HasPrefix(out, "hub ") {
		t.Errorf("hub version = %q, exit %d", out, code)
	}
	if _, _, code := runHub(t, dir, "nosuchcommand"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}
