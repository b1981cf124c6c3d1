package chat

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Token is a chat platform's bot token. It prints, logs and marshals as
// "[redacted]", so a config value logged by mistake does not leak it;
// string(t) is the token. Every chat adapter uses it (telegram.Token and
// discord.Token are this type).
type Token string

const redacted = "[redacted]"

// Format implements fmt.Formatter for every verb.
func (Token) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer.
func (Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler (and so JSON).
func (Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Redact hides token in err's message: client libraries put tokens in
// request URLs, and those URLs end up in their errors. The result still
// unwraps to err, so callers keep errors.Is and errors.As.
func Redact(err error, token Token) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), string(token)) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), string(token), redacted), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
