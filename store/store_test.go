package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/hubhq/hub/core"
)

func TestFileModeIsPrivate(t *testing.T) {
	for _, pre := range []struct {
		name   string
		create bool
	}{{"new file", false}, {"existing 0644 file", true}} {
		t.Run(pre.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.db")
			if pre.create {
				if err := os.WriteFile(path, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			db, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// A write makes sure the -wal file exists too.
			if err := db.SetState(t.Context(), core.StateKey{Namespace: "n", Scope: "s", Key: "k"}, []byte("v"), 0); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != 0o600 {
					t.Errorf("%s: mode %o, want 600", filepath.Base(p), got)
				}
			}
		})
	}
}

func TestOpenRejectsNonFilePaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if db, err := Open(p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "we?ird#name%.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k := core.StateKey{Namespace: "n", Scope: "s", Key: "k"}
	if err := db.SetState(t.Context(), k, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}

func TestStateSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	ctx := t.Context()
	k := core.StateKey{Namespace: "echo", Scope: "telegram:42", Key: "greeting"}

	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetState(ctx, k, []byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if err := db.AppendState(ctx, k, []byte(v), 2); err != nil {
			t.Fatal(err)
		}
	}
	db.ScopeOpened("telegram:42", "telegram") // async: Close must flush it
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, ok, err := db.GetState(ctx, k)
	if err != nil || !ok || string(got) != "hello" {
		t.Errorf("GetState after reopen = %q, %v, %v; want hello", got, ok, err)
	}
	list, err := db.ListState(ctx, k)
	if err != nil || len(list) != 2 || string(list[0]) != "b" || string(list[1]) != "c" {
		t.Errorf("ListState after reopen = %q, %v; want [b c]", list, err)
	}
	if _, ok, err := db.Scope(ctx, "telegram:42"); err != nil || !ok {
		t.Errorf("Scope after reopen: ok=%v err=%v; want the async record flushed by Close", ok, err)
	}
}

func TestMigratesOldDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	ctx := t.Context()
	if err := createPrivate(path); err != nil {
		t.Fatal(err)
	}

	// Build a version-1 database, as an older hub would have left it.
	raw, err := sql.Open("sqlite3", dsn(path, nil))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, conn, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx,
		`INSERT INTO scopes (key, protocol, opened_at, last_seen) VALUES ('discord:1', 'discord', 1, 2)`); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	raw.Close()

	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(); err != nil || v != len(migrations) {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, len(migrations))
	}
	if rec, ok, err := db.Scope(ctx, "discord:1"); err != nil || !ok || rec.Protocol != "discord" {
		t.Errorf("old row after migration = %+v, %v, %v", rec, ok, err)
	}
	k := core.StateKey{Namespace: "n", Scope: "s", Key: "k"}
	if err := db.SetState(ctx, k, []byte("v"), 0); err != nil {
		t.Errorf("new table after migration: %v", err)
	}
}

func TestAppendedMigrationRuns(t *testing.T) {
	// What the next issue will do: append one step to the slice.
	db, _ := openTest(t)
	steps := append(migrations[:len(migrations):len(migrations)], `CREATE TABLE next_feature (id INTEGER PRIMARY KEY);`)
	// Run it on a separate connection, as Open would on the next start.
	raw, err := sql.Open("sqlite3", dsn(db.path, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	conn, err := raw.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := migrate(t.Context(), conn, steps); err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(); err != nil || v != len(steps) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(steps))
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	db, path := openTest(t)
	if err := db.write(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "PRAGMA user_version = 999")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := t.Context()
	k := core.StateKey{Namespace: "n", Scope: "s", Key: "k"}
	if err := db.SetState(ctx, k, nil, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("SetState after Close: %v", err)
	}
	if _, _, err := db.GetState(ctx, k); !errors.Is(err, ErrClosed) {
		t.Errorf("GetState after Close: %v", err)
	}
	if _, err := db.ListState(ctx, k); !errors.Is(err, ErrClosed) {
		t.Errorf("ListState after Close: %v", err)
	}
	if _, _, err := db.Scope(ctx, "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Scope after Close: %v", err)
	}
	db.ScopeOpened("x", "ws") // must not panic or block
	if got := db.Stats().Dropped; got != 1 {
		t.Errorf("Dropped = %d, want 1", got)
	}
}

// TestCloseWhileWriting checks the durability contract at shutdown: every
// write that returned nil is there after reopening, and writers racing Close
// get ErrClosed rather than hanging.
func TestCloseWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := Open(path, withQueueSize(8)) // small, so some writers block enqueueing
	if err != nil {
		t.Fatal(err)
	}
	const writers = 20
	var (
		mu        sync.Mutex
		committed []core.StateKey
		wg        sync.WaitGroup
		started   = make(chan struct{}, writers)
	)
	for g := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				k := core.StateKey{Namespace: "n", Scope: strconv.Itoa(g), Key: strconv.Itoa(i)}
				err := db.SetState(context.Background(), k, []byte("v"), 0)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				committed = append(committed, k)
				mu.Unlock()
				if i == 0 {
					started <- struct{}{}
				}
			}
		})
	}
	for range writers {
		within(t, "writers to start", started)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	within(t, "writers to see ErrClosed", done)

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range committed {
		if _, ok, err := db.GetState(t.Context(), k); err != nil || !ok {
			t.Fatalf("write %+v returned nil but is missing after reopen (err %v)", k, err)
		}
	}
}
