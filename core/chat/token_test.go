package chat

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-telegram/bot"
)

func TestRedact(t *testing.T) {
	const tok Token = "123:very-secret"
	orig := fmt.Errorf("Post https://api.telegram.org/bot%s/sendMessage: %w", string(tok), bot.ErrorForbidden)
	err := fmt.Errorf("telegram: send: %w", Redact(orig, tok))
	if strings.Contains(err.Error(), string(tok)) || !strings.Contains(err.Error(), "bot[redacted]/sendMessage") {
		t.Fatalf("redacted error: %v", err)
	}
	if !errors.Is(err, bot.ErrorForbidden) {
		t.Fatal("redaction hides the error's identity")
	}
	if plain := errors.New("no token here"); Redact(plain, tok) != plain {
		t.Fatal("an error without the token should pass unchanged")
	}
}
