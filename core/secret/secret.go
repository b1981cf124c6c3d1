package secret

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// String is a value that must never be printed. Every way of formatting,
// logging or marshalling it gives "[redacted]"; Value (or string(s)) is the
// only way to read it, for the one place that needs it.
type String string

const redacted = "[redacted]"

// Value returns the secret itself.
func (s String) Value() string { return string(s) }

// String implements fmt.Stringer.
func (String) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (String) GoString() string { return redacted }

// Format implements fmt.Formatter, so that no verb (%d, %x, %q…) prints it.
func (String) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer.
func (String) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler, so JSON and YAML encoders
// redact it too.
func (String) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Redact hides s in err's message: client libraries put tokens in request
// URLs, and those URLs end up in their errors. The result still unwraps to
// err, so callers keep errors.Is and errors.As.
func Redact(err error, s String) error {
	if err == nil || s == "" || !strings.Contains(err.Error(), string(s)) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), string(s), redacted), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
