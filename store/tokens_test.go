package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secretToken = "123456:AAH-very-secret"

func TestTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := db.TokenAdd(ctx, "support", "telegram", secretToken); err != nil {
		t.Fatal(err)
	}
	if err := db.TokenAdd(ctx, "alerts", "telegram", "1:old"); err != nil {
		t.Fatal(err)
	}
	if err := db.TokenAdd(ctx, "alerts", "telegram", "1:new"); err != nil { // replaces
		t.Fatal(err)
	}
	if err := db.TokenAdd(ctx, "empty", "telegram", ""); err == nil {
		t.Fatal("an empty token was accepted")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("database mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if tok, platform, err := db.TokenGet(ctx, "support"); tok != secretToken || platform != "telegram" || err != nil {
		t.Fatalf("TokenGet = %q, %q, %v", tok, platform, err)
	}
	if tok, _, _ := db.TokenGet(ctx, "alerts"); tok != "1:new" {
		t.Fatalf("replaced token = %q", tok)
	}
	list, err := db.TokenList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "alerts" || list[1].Name != "support" || list[1].Platform != "telegram" || list[1].Created.IsZero() {
		t.Fatalf("TokenList = %+v", list)
	}
	if s := fmt.Sprintf("%+v", list); strings.Contains(s, "AAH") {
		t.Fatalf("the list shows a token: %s", s)
	}
	if err := db.TokenRemove(ctx, "support"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.TokenGet(ctx, "support"); !errors.Is(err, ErrNoToken) {
		t.Fatalf("removed token: %v", err)
	}
	if err := db.TokenRemove(ctx, "support"); !errors.Is(err, ErrNoToken) {
		t.Fatalf("removing twice: %v", err)
	}
}
