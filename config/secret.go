package config

import (
	"regexp"

	"github.com/hubhq/hub/core/secret"
)

// Secret is a config value that must never be printed: a bot token, a
// broker password (see secret.String; Value reads it).
type Secret = secret.String

const redacted = "[redacted]"

// userinfo matches the "user:password@" of a URL.
var userinfo = regexp.MustCompile(`//[^/@]*@`)

// RedactURL hides the user and password of a URL ("redis://:pw@host" →
// "redis://[redacted]@host"), for logs and error messages that name a
// layer or broker. It works on malformed URLs too.
func RedactURL(s string) string {
	return userinfo.ReplaceAllString(s, "//"+redacted+"@")
}
