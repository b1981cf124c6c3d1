package cli_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/hubhq/hub/plugins/echo"
	"github.com/hubhq/hub/store"
)

// closedPort is a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// openPort is a local address that accepts connections until the test ends.
func openPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

func TestHubDoctor(t *testing.T) {
	const secret = "123456:SECRET-token-never-printed-ABCDEFG"
	broker := openPort(t)
	tests := []struct {
		name   string
		config string // %STORE% is replaced by the store's path
		code   int
		want   []string // regexps, each matching one line of stdout
	}{{
		name: "all ok",
		config: `
store: ./hub.db
routes:
  telegram:
    - consumer: echo
bots:
  - name: support
    platform: telegram
    token: ` + secret + `
mqtt:
  - name: local
    url: tcp://` + broker + `
`,
		code: 0,
		want: []string{`^ok +config +.*hub\.yaml$`, `^ok +consumers `, `^ok +store `, `^ok +token support +set in`, `^ok +witness +runs beside the hub`, `^ok +layer +memory`, `^ok +mqtt local +tcp://` + regexp.QuoteMeta(broker) + ` answers`},
	}, {
		name: "missing consumer",
		config: `
store: ./hub.db
routes:
  telegram:
    - consumer: nosuch
`,
		code: 1,
		want: []string{`^FAIL +config `, `^FAIL +consumers +.*hub\.yaml:5: routes\.telegram\[0\]\.consumer: unknown consumer "nosuch"`, `^skip +store `},
	}, {
		name: "broken config",
		config: `
store: ./hub.db
listen: nope
`,
		code: 1,
		want: []string{`^FAIL +config +.*hub\.yaml:3: listen: `},
	}, {
		name: "missing token",
		config: `
store: ./hub.db
bots:
  - name: support
    platform: telegram
`,
		code: 1,
		want: []string{`^ok +config `, `^FAIL +token support +.*hub\.yaml:4: bots\[0\]\.token: no token: .*hub token add telegram support`},
	}, {
		name: "unreachable layer",
		config: `
store: ./hub.db
layer: redis://` + closedPort(t) + `/0
`,
		code: 1,
		want: []string{`^ok +config `, `^FAIL +layer +`},
	}, {
		name: "unreachable broker",
		config: `
store: ./hub.db
mqtt:
  - name: away
    url: tcp://user:pw@` + closedPort(t) + `
`,
		code: 1,
		want: []string{`^FAIL +mqtt away +tcp://\[redacted\]@`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := writeFile(t, dir, "hub.yaml", tt.config)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			code, out, errs := run(ctx, "doctor", "--config", path)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errs)
			}
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			for _, w := range tt.want {
				re := regexp.MustCompile(w)
				found := false
				for _, l := range lines {
					found = found || re.MatchString(l)
				}
				if !found {
					t.Errorf("no line matches %s in:\n%s", w, out)
				}
			}
			for _, l := range lines {
				if !regexp.MustCompile(`^(ok|FAIL|skip) `).MatchString(l) {
					t.Errorf("line %q is neither ok, FAIL nor skip", l)
				}
			}
			if strings.Contains(out+errs, "SECRET") || strings.Contains(out+errs, ":pw@") {
				t.Errorf("a secret was printed:\n%s%s", out, errs)
			}
			if tt.code == 0 && errs != "" {
				t.Errorf("stderr: %s", errs)
			}
			if _, err := os.Stat(filepath.Join(dir, "hub.db")); err == nil {
				t.Errorf("the doctor created the store")
			}
		})
	}
}

func TestHubDoctorTokenInStore(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "hub.yaml", "store: ./hub.db\nbots:\n  - name: support\n    platform: telegram\n")
	db, err := store.Open(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.TokenAdd(context.Background(), "support", "telegram", "123456:SECRET-token-never-printed-ABCDEFG"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(context.Background(), "doctor", "--config", path)
	if code != 0 || !regexp.MustCompile(`(?m)^ok +token support +registered in the store$`).MatchString(out) || !regexp.MustCompile(`(?m)^ok +store +.*schema version \d+`).MatchString(out) {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(out+errs, "SECRET") {
		t.Fatalf("token printed:\n%s", out)
	}
}

func TestHubDoctorUsage(t *testing.T) {
	if code, _, _ := run(context.Background(), "doctor", "extra"); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
