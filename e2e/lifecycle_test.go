package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubhq/hub/internal/servertest"
)

// stubbornPlugin is an exec plugin that accepts sockets, echoes their
// text, and does not exit when its stdin closes: only the hub's Close,
// which kills it after stop_grace, ends it.
const stubbornPlugin = `import json, sys, time
def write(m):
    sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
sys.stdin.readline()
write({"type": "plugin.hello", "protocol": 1})
for line in sys.stdin:
    m = json.loads(line)
    if m.get("type") != "event":
        continue
    key, ev = m["scope"]["key"], m["event"]
    if ev["type"] == "websocket.connect":
        write({"scope": key, "action": {"type": "websocket.accept"}})
    elif ev["type"] == "websocket.receive":
        write({"scope": key, "action": {"type": "websocket.send", "text": "plugin: " + ev.get("text", "")}})
    write({"type": "done", "scope": key, "for": m["seq"]})
time.sleep(600)
`

// writePlugin writes stubbornPlugin into dir and returns its path.
func writePlugin(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "stubborn.py")
	if err := os.WriteFile(path, []byte(stubbornPlugin), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// needPython returns the python3 to run plugins with, or skips. It is the
// interpreter itself, not a wrapper such as a pyenv shim, which can take
// seconds to start.
func needPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		return servertest.Need(t, "/usr/bin/python3") // skips, or fails in CI
	}
	out, err := exec.Command(py, "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatalf("%s: %v", py, err)
	}
	return strings.TrimSpace(string(out))
}

// processesRunning lists the pids whose command line contains marker (a
// plugin's unique script path), found in /proc so that interpreter
// wrappers (pyenv shims) do not matter.
func processesRunning(t *testing.T, marker string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(marker)) && !zombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // gone meanwhile
	}
	// "pid (comm) S …": the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z'
}

// killAll ends processes a failed test left behind.
func killAll(pids []int) {
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// TestExecPluginStopsWithHub checks that an exec plugin's process is gone
// once the hub has exited on SIGTERM, even a plugin that ignores the end of
// its input.
func TestExecPluginStopsWithHub(t *testing.T) {
	py := needPython(t)
	dir := t.TempDir()
	script := writePlugin(t, dir)
	path := writeConfig(t, dir, `
listen: 127.0.0.1:0
store: ./hub.db
log: {level: info, format: text}
websocket: {handshake_timeout: 30s} # the plugin starts with the first socket
routes:
  websocket:
    - path: /ws/plugin/
      consumer: exec
      options: {name: stubborn, command: [`+py+`, `+script+`], stop_grace: 1s}
`)
	h := startHub(t, path)
	t.Cleanup(func() { killAll(processesRunning(t, script)) })

	c, _, err := websocket.DefaultDialer.Dial("ws://"+h.Addr+"/ws/plugin/", nil)
	if err != nil {
		t.Fatalf("dial the plugin's route: %v", err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(readTimeout))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "plugin: hi" {
		t.Fatalf("plugin answered %q, %v", got, err)
	}
	if pids := processesRunning(t, script); len(pids) != 1 {
		t.Fatalf("plugin processes while the hub runs: %v, want one", pids)
	}

	if code := h.Stop(); code != 0 {
		t.Fatalf("hub exit code %d:\n%s", code, h.Logs())
	}
	if pids := processesRunning(t, script); len(pids) != 0 {
		t.Fatalf("plugin processes %v still running after the hub exited", pids)
	}
}
