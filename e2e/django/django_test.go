package django

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubhq/hub/internal/servertest"
	"github.com/hubhq/hub/internal/syncbuf"
)

const (
	// pythonBinary is the system Python, where Debian's python3-django-channels,
	// python3-channels-redis and python3-daphne install.
	pythonBinary = "/usr/bin/python3"
	// patience bounds each wait for something that must happen.
	patience = 10 * time.Second
)

// hubBin is the hub binary that TestMain builds.
var hubBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hub-e2e-django-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/django:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	hubBin = filepath.Join(dir, "hub")
	build := exec.Command("go", "build", "-tags", "libsqlite3", "-o", hubBin, "github.com/hubhq/hub/cmd/hub")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/django: building the hub binary:", err)
		return 1
	}
	return m.Run()
}

// TestDjangoChannelsInterop runs a Django Channels 4 project and the hub on
// one Redis. Django's group_send to chat_lobby reaches the hub's WebSocket
// clients in room lobby; a line typed in the hub's room reaches a Django
// consumer, served by daphne, in group chat_lobby; and a line typed to that
// consumer reaches the hub's clients.
func TestDjangoChannelsInterop(t *testing.T) {
	redis := servertest.Redis()
	servertest.Need(t, redis.Binary)
	if out, err := exec.Command(pythonBinary, "-c", "import django, channels, channels_redis, daphne").CombinedOutput(); err != nil {
		servertest.Missing(t, "%s with Django Channels (apt python3-django-channels python3-channels-redis python3-daphne): %v\n%s", pythonBinary, err, out)
	}
	project, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}

	// The two Django processes take seconds to import Django: they start
	// first and get ready while the hub starts.
	redisURL := "redis://" + servertest.Start(t, redis).Addr() + "/0"
	daphne := launch(t, "daphne", daphneListening, daphneCommand(project, redisURL))
	sender := startScript(t, project, redisURL, "group_send.py", "--wait", "lobby", "dj", "from django ✓")
	hubAddr := launch(t, "hub", hubListening, hubCommand(t, redisURL))()
	daphneAddr := daphne()

	// The hub's Connect joins chat_lobby before it accepts, and Django's
	// consumer does the same: once a handshake is done, its socket is in the
	// group.
	hubClient := dial(t, hubAddr)
	djangoClient := dial(t, daphneAddr)

	// Django → hub: group_send from a plain Django script.
	sender.expect("READY")
	sender.goAhead()
	sender.expect("SENT")
	sender.wait()
	expectHub(t, hubClient, map[string]any{"message": "from django ✓", "user": "dj", "room": "lobby"})
	// The Django consumer is in chat_lobby too: it hears its own project.
	expectDjango(t, djangoClient, "from django ✓", "dj")

	// Hub → Django: a line typed in the hub's room, read by Django's consumer.
	if err := hubClient.WriteJSON(map[string]string{"message": "from hub ✓", "user": "go"}); err != nil {
		t.Fatal(err)
	}
	expectHub(t, hubClient, map[string]any{"id": anyID, "message": "from hub ✓", "user": "go", "room": "lobby"})
	ev := expectDjango(t, djangoClient, "from hub ✓", "go")
	t.Logf("the hub's layer message as Django's consumer got it: %s", mustJSON(ev))

	// Django consumer → hub: a line typed to Django's consumer.
	if err := djangoClient.WriteJSON(map[string]string{"message": "from daphne ✓", "user": "dj2"}); err != nil {
		t.Fatal(err)
	}
	expectHub(t, hubClient, map[string]any{"message": "from daphne ✓", "user": "dj2", "room": "lobby"})
	expectDjango(t, djangoClient, "from daphne ✓", "dj2")
}

// anyID as the "id" of a wanted frame stands for any history id: a line
// typed in the hub's room has one; a line from Django has none, so its
// frame has no "id" at all.
const anyID = "<any id>"

// expectHub reads the next frame of a hub chat client and wants exactly want.
func expectHub(t *testing.T, c *websocket.Conn, want map[string]any) {
	t.Helper()
	raw := read(t, c, want["message"])
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("hub client got %q: %v", raw, err)
	}
	if id, ok := got["id"].(string); ok && id != "" && want["id"] == anyID {
		want = maps.Clone(want)
		want["id"] = id
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("hub client got %s, want %s", raw, mustJSON(want))
	}
}

// expectDjango reads the next frame of a client of Django's consumer, wants
// the given line in room lobby, and returns the layer event the consumer
// received, which must carry the chat room contract: string type
// "chat.message", message, user and room.
func expectDjango(t *testing.T, c *websocket.Conn, message, user string) map[string]any {
	t.Helper()
	raw := read(t, c, message)
	var got struct {
		Message string         `json:"message"`
		User    string         `json:"user"`
		Room    string         `json:"room"`
		Event   map[string]any `json:"event"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("Django client got %q: %v", raw, err)
	}
	if got.Message != message || got.User != user || got.Room != "lobby" {
		t.Fatalf("Django client got %s, want message %q, user %q, room lobby", raw, message, user)
	}
	want := map[string]any{"type": "chat.message", "message": message, "user": user, "room": "lobby"}
	for k, v := range want {
		if got.Event[k] != v {
			t.Fatalf("Django's consumer got the event %s: %s is %#v, want %#v", mustJSON(got.Event), k, got.Event[k], v)
		}
	}
	return got.Event
}

func read(t *testing.T, c *websocket.Conn, what any) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(patience))
	kind, raw, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("waiting for %q: %v", what, err)
	}
	if kind != websocket.TextMessage {
		t.Fatalf("waiting for %q: got a frame of type %d: %q", what, kind, raw)
	}
	return raw
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

func dial(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: patience}
	c, resp, err := d.Dial("ws://"+addr+"/ws/chat/lobby/", nil)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial %s: %v %s", addr, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pythonEnv is the environment of the Django processes: the project on the
// path, its settings, the test's Redis, and no .pyc files in testdata.
func pythonEnv(project, redisURL string) []string {
	env := []string{
		"PYTHONPATH=" + project,
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
		"DJANGO_SETTINGS_MODULE=djproject.settings",
		"HUB_DJANGO_REDIS_HOSTS=" + redisURL,
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "DJANGO_SETTINGS_MODULE", "HUB_DJANGO_REDIS_HOSTS":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// script is a Python script of the project that the test talks to line by
// line: it reads the script's stdout and writes to its stdin.
type script struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, closed at its end
	stderr *syncbuf.Buffer
	exited chan struct{}
	err    error
}

// startScript runs `python3 name args…` in the project until the test ends.
func startScript(t *testing.T, project, redisURL, name string, args ...string) *script {
	t.Helper()
	s := &script{t: t, name: name, lines: make(chan string, 16), stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(pythonBinary, append([]string{name}, args...)...)
	s.cmd.Dir = project
	s.cmd.Env = pythonEnv(project, redisURL)
	s.cmd.Stderr = s.stderr
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start python3 %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		io.Copy(io.Discard, stdout)
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		for range s.lines { // drain, so the reader can reach Wait
		}
		<-s.exited
		if t.Failed() {
			t.Logf("python3 %s stderr:\n%s", name, s.stderr.String())
		}
	})
	return s
}

// expect waits for the script to print the line want.
func (s *script) expect(want string) {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			<-s.exited
			s.t.Fatalf("python3 %s ended (%v) before printing %s:\n%s", s.name, s.err, want, s.stderr.String())
		}
		if line != want {
			s.t.Fatalf("python3 %s printed %q, want %s", s.name, line, want)
		}
	case <-time.After(patience):
		s.t.Fatalf("python3 %s did not print %s within %v:\n%s", s.name, want, patience, s.stderr.String())
	}
}

// goAhead writes a line to the script's stdin.
func (s *script) goAhead() {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, "go\n"); err != nil {
		s.t.Fatalf("python3 %s stdin: %v", s.name, err)
	}
}

// wait wants the script to exit 0 without further output.
func (s *script) wait() {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if ok {
			s.t.Fatalf("python3 %s printed %q, want nothing more", s.name, line)
		}
	case <-time.After(patience):
		s.t.Fatalf("python3 %s still running %v after its last line", s.name, patience)
	}
	<-s.exited
	if s.err != nil {
		s.t.Fatalf("python3 %s: %v\n%s", s.name, s.err, s.stderr.String())
	}
}

// launch starts cmd, which runs until the test ends, and returns a function
// that waits for the first submatch of listening in its stderr: the address
// it listens on. Its stderr is shown when the test fails.
func launch(t *testing.T, name string, listening *regexp.Regexp, cmd *exec.Cmd) (addr func() string) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	var logs syncbuf.Buffer
	found := make(chan string, 1)
	exited := make(chan struct{})
	var waitErr error
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logs.Write([]byte(line + "\n"))
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, logs.String())
		}
	})
	return func() string {
		t.Helper()
		select {
		case a := <-found:
			return a
		case <-exited:
			t.Fatalf("%s exited before listening: %v\n%s", name, waitErr, logs.String())
		case <-time.After(patience):
			t.Fatalf("%s did not say where it listens within %v:\n%s", name, patience, logs.String())
		}
		return ""
	}
}

var (
	hubListening    = regexp.MustCompile(`msg=listening addr=(\S+)`)
	daphneListening = regexp.MustCompile(`Listening on TCP address (\S+)`)
)

// hubCommand runs the hub binary serving the chat room on the Redis layer,
// on a port of its choice.
func hubCommand(t *testing.T, redisURL string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.yaml")
	config := `
listen: 127.0.0.1:0
store: ./hub.db
layer: ` + redisURL + `
log: {level: info, format: text}
routes:
  websocket:
    - path: /ws/chat/{room}/
      consumer: chatroom
`
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(hubBin, "run", "--config", path)
	cmd.Dir = dir
	return cmd
}

// daphneCommand serves the Django project with daphne on a port of its
// choice.
func daphneCommand(project, redisURL string) *exec.Cmd {
	cmd := exec.Command(pythonBinary, "-m", "daphne", "-b", "127.0.0.1", "-p", "0", "-v", "1", "djproject.asgi:application")
	cmd.Dir = project
	cmd.Env = pythonEnv(project, redisURL)
	return cmd
}
