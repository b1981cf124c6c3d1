package store

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hubhq/hub/internal/witness"
)

func TestJournalReplayedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ids := map[string]int64{}
	for _, name := range []string{"written", "answered", "errored", "retried", "untouched", "done"} {
		id, err := db.OutboxAdd(ctx, entry("a", "", name))
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	steps := []struct {
		name string
		fn   func(int64) error
	}{
		{"written", db.OutboxWritten},
		{"answered", db.OutboxWritten},
		{"answered", func(id int64) error { return db.OutboxAnswered(id, "msg 42") }},
		{"errored", db.OutboxWritten},
		{"errored", db.OutboxErrored},
		{"retried", db.OutboxWritten},
		{"retried", db.OutboxErrored},
		{"retried", db.OutboxWritten},
		{"done", db.OutboxWritten},
		{"done", func(id int64) error { return db.OutboxAnswered(id, "7") }},
		{"done", func(id int64) error { return db.OutboxDone(ctx, id, "7") }},
	}
	for _, s := range steps {
		if err := s.fn(ids[s.name]); err != nil {
			t.Fatal(err)
		}
	}
	// A crash now: Close keeps the journal, as a killed process would.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]struct {
		pending         bool
		result, lastErr string
	}{
		"written":   {false, "", InDoubt},
		"answered":  {false, "msg 42", ""},
		"errored":   {true, "", ""},
		"retried":   {false, "", InDoubt},
		"untouched": {true, "", ""},
		"done":      {false, "7", ""},
	}
	for name, w := range want {
		e, _, err := db.OutboxGet(ctx, ids[name])
		if err != nil {
			t.Fatal(err)
		}
		if e.Pending() != w.pending || e.Result != w.result || e.LastError != w.lastErr {
			t.Errorf("%s: pending %v, result %q, last error %q; want %v, %q, %q", name, e.Pending(), e.Result, e.LastError, w.pending, w.result, w.lastErr)
		}
	}
	if data, err := os.ReadFile(JournalPath(path)); err != nil || len(data) != 0 {
		t.Errorf("journal after replay: %q, %v; want it empty", data, err)
	}
	// "done" was committed already: the replay settled the other three.
	if got, want := db.Replayed(), (Replay{Answered: 1, InDoubt: 2}); got != want {
		t.Errorf("Replayed() = %+v, want %+v", got, want)
	}
}

func TestParseJournal(t *testing.T) {
	got := parseJournal([]byte("W 1\nR 2 \"12\"\nW 3\nE 3\nR 4 unquoted\nX 5\nW x\nR 6\nW 7 extra\nW 1\nR 1 \"a b\"\n" +
		"I 9 12.1 300\nI 10 12.1\nI 11 12.1 x\nC 12.1 299\nC 12.2\nC 12.3 7 7\nW 8"))
	want := map[int64]journalLine{1: {kind: 'R', result: "a b"}, 2: {kind: 'R', result: "12"}, 3: {kind: 'E'}, 9: {kind: 'I', conn: "12.1", end: 300}}
	if len(got.last) != len(want) {
		t.Fatalf("parsed %v, want %v", got.last, want)
	}
	for id, l := range want {
		if got.last[id] != l {
			t.Errorf("entry %d: %+v, want %+v", id, got.last[id], l)
		}
	}
	if len(got.written) != 1 || got.written["12.1"] != 299 {
		t.Errorf("witness counts %v, want 12.1: 299", got.written)
	}
}

// The witness settles a call the crash caught between its I line and its
// W line: the kernel's count says whether the request left whole.
func TestJournalAsksTheWitness(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the witness is Linux's")
	}
	db, path := openTest(t)
	ctx := t.Context()
	ids := map[string]int64{}
	for _, name := range []string{"written", "caught after the write", "caught before the write", "on a conn the witness never had"} {
		id, err := db.OutboxAdd(ctx, entry("a", "", name))
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	conn := dialRaw(t)
	w, err := db.Wire(conn)
	if err != nil {
		t.Fatal(err)
	}
	n, err, jerr := db.OutboxWrite(ids["written"], w, []byte("POST /a HTTP/1.1\r\n\r\n"))
	if err != nil || jerr != nil || n != 20 {
		t.Fatalf("OutboxWrite: %d, %v, %v", n, err, jerr)
	}
	// What a kill between the lines and the write leaves: OutboxWrite's
	// I line, then (or not) its write.
	end := written(t, conn) + 5
	appendJournal(t, path, fmt.Sprintf("I %d %s %d\n", ids["caught after the write"], w.key, end))
	write(t, conn, "hello")
	appendJournal(t, path, fmt.Sprintf("I %d %s %d\n", ids["caught before the write"], w.key, end+5))
	appendJournal(t, path, fmt.Sprintf("I %d %s %d\n", ids["on a conn the witness never had"], "1.1", 1))
	lines := readJournal(t, path)
	if want := fmt.Sprintf("I %d %s %d", ids["written"], w.key, end-5); lines[0] != want || lines[1] != fmt.Sprint("W ", ids["written"]) {
		t.Fatalf("OutboxWrite's lines %q, want %q and W", lines[:2], want)
	}
	// A crash now: Close keeps the journal, and ends the witness, which
	// reports the count, as it would once the hub is killed.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if last := readJournal(t, path); last[len(last)-1] != fmt.Sprintf("C %s %d", w.key, end) {
		t.Fatalf("journal %q: want the witness's count %d last", last, end)
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, pending := range map[string]bool{
		"written": false, "caught after the write": false,
		"caught before the write": true, "on a conn the witness never had": true,
	} {
		e, _, err := db.OutboxGet(ctx, ids[name])
		if err != nil {
			t.Fatal(err)
		}
		if e.Pending() != pending || !pending && e.LastError != InDoubt {
			t.Errorf("%s: pending %v (%q), want %v", name, e.Pending(), e.LastError, pending)
		}
	}
	if got, want := db.Replayed(), (Replay{InDoubt: 2, Witnessed: 1, Again: 2, Unwitnessed: 1}); got != want {
		t.Errorf("Replayed() = %+v, want %+v", got, want)
	}
}

// dialRaw connects to a listener that reads everything.
func dialRaw(t testing.TB) syscall.RawConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c) //nolint:errcheck
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func written(t *testing.T, conn syscall.RawConn) int64 {
	t.Helper()
	n, err := witness.Written(conn)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func write(t *testing.T, conn syscall.RawConn, s string) {
	t.Helper()
	var err error
	conn.Write(func(fd uintptr) bool { //nolint:errcheck
		_, err = syscall.Write(int(fd), []byte(s))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
}

func appendJournal(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(JournalPath(path), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

func readJournal(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(JournalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestJournalOfALiveProcessIsNotReplayed(t *testing.T) {
	first, path := openTest(t)
	id, err := first.OutboxAdd(t.Context(), entry("a", "", "in flight"))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.OutboxWritten(id); err != nil {
		t.Fatal(err)
	}
	// A second opener (a CLI command) while the first still sends: the
	// call in flight is not its to settle, nor its journal to append to.
	second, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if e, _, _ := second.OutboxGet(t.Context(), id); !e.Pending() {
		t.Fatalf("the second open settled a call in flight: %+v", e)
	}
	if err := second.OutboxWritten(id); err == nil {
		t.Fatal("two processes append to one journal")
	}
	// Once the first lets go (it held the lock only to replay, say), the
	// second appends.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := second.OutboxWritten(id); err != nil {
		t.Fatalf("the journal stays refused after the lock was released: %v", err)
	}
}

func TestJournalCompactsToTheLiveLines(t *testing.T) {
	db, path := openTest(t)
	ctx := t.Context()
	live, err := db.OutboxAdd(ctx, entry("a", "", "in flight"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.OutboxAnswered(live, "9"); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		id, err := db.OutboxAdd(ctx, entry("a", "", "sent"))
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range []func() error{
			func() error { return db.OutboxWritten(id) },
			func() error { return db.OutboxErrored(id) },
			func() error { return db.OutboxWritten(id) },
			func() error { return db.OutboxAnswered(id, "1") },
			func() error { return db.OutboxDone(ctx, id, "1") },
		} {
			if err := fn(); err != nil {
				t.Fatal(err)
			}
		}
	}
	db.calls.limit.Store(0) // the next line compacts
	if err := db.OutboxErrored(live + 1000); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(JournalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("R %d \"9\"\n", live); string(data) != want {
		t.Fatalf("journal after compaction: %q, want %q", data, want)
	}
}

// FuzzParseJournal: whatever a torn or foreign file holds, parsing never
// panics, and a line it keeps says what was written.
func FuzzParseJournal(f *testing.F) {
	f.Add([]byte("I 1 12.1 300\nW 1\nR 1 \"7\"\nE 2\nC 12.1 301\n"))
	f.Add([]byte("W 1\nR 2 \"a\\\"b\"\nI 3 x 1"))
	f.Add([]byte("C 1.1 -5\nI -1 k 0\n\n \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := parseJournal(data)
		for id, l := range got.last {
			var line string
			switch l.kind {
			case 'R':
				line = fmt.Sprintf("R %d %s\n", id, strconv.Quote(l.result))
			case 'I':
				line = fmt.Sprintf("I %d %s %d\n", id, l.conn, l.end)
			case 'W', 'E':
				line = fmt.Sprintf("%c %d\n", l.kind, id)
			default:
				t.Fatalf("entry %d: kind %q kept", id, l.kind)
			}
			if again := parseJournal([]byte(line)).last[id]; again != l {
				t.Errorf("line %q reads back as %+v, want %+v", line, again, l)
			}
		}
	})
}

// A witness that died (killed by hand, say) is replaced at the next Wire:
// the connections from then on are witnessed again.
func TestJournalReplacesADeadWitness(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the witness is Linux's")
	}
	db, _ := openTest(t)
	first, err := db.Wire(dialRaw(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(first.wit.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the witness to die", func() bool { return !first.wit.Alive() })
	second, err := db.Wire(dialRaw(t))
	if err != nil {
		t.Fatal(err)
	}
	if second.wit == first.wit || !second.wit.Alive() {
		t.Fatal("no new witness after the first died")
	}
	if err := first.Close(); err == nil {
		t.Error("dropping a socket from a dead witness did not fail")
	}
	if err := second.Close(); err != nil {
		t.Error(err)
	}
}
