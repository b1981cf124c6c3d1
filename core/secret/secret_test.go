package secret

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
)

func TestNeverPrinted(t *testing.T) {
	const s String = "123:topsecret"
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("bot", "token", s, "in", struct{ T String }{s})
	js, err := json.Marshal(map[string]any{"token": s})
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %d", s, s, s, s, s, s, s), s.String(), logged.String(), string(js)} {
		if strings.Contains(out, "topsecret") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if s.Value() != "123:topsecret" || string(s) != s.Value() {
		t.Error("Value does not give the secret back")
	}
}

func TestRedact(t *testing.T) {
	const tok String = "123:very-secret"
	orig := fmt.Errorf("Post https://api.telegram.org/bot%s/sendMessage: %w", string(tok), fs.ErrPermission)
	err := fmt.Errorf("telegram: send: %w", Redact(orig, tok))
	if strings.Contains(err.Error(), string(tok)) || !strings.Contains(err.Error(), "bot[redacted]/sendMessage") {
		t.Fatalf("redacted error: %v", err)
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatal("redaction hides the error's identity")
	}
	if plain := errors.New("no token here"); Redact(plain, tok) != plain {
		t.Fatal("an error without the token should pass unchanged")
	}
	if Redact(nil, tok) != nil {
		t.Fatal("Redact(nil) is not nil")
	}
}
