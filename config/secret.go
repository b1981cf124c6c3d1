package config

import (
	"fmt"
	"io"
	"log/slog"
	"regexp"
)

// Secret is a config value that must never be printed: a bot token, a broker
// password. Every way of formatting or logging it prints "[redacted]"; Value
// is the only way to read it.
type Secret string

const redacted = "[redacted]"

// Value returns the secret itself, for the one place that needs it.
func (s Secret) Value() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter, so that no verb (%d, %x, %q…) prints it.
func (s Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler, so JSON and YAML encoders
// redact it too.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// userinfo matches the "user:password@" of a URL.
var userinfo = regexp.MustCompile(`//[^/@]*@`)

// RedactURL hides the user and password of a URL ("redis://:pw@host" →
// "redis://[redacted]@host"), for logs and error messages that name a
// layer or broker. It works on malformed URLs too.
func RedactURL(s string) string {
	return userinfo.ReplaceAllString(s, "//"+redacted+"@")
}
