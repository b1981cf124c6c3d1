package chat

import "github.com/hubhq/hub/core/secret"

// Token is a chat platform's bot token: a secret.String, which prints,
// logs and marshals as "[redacted]", so a config value logged by mistake
// does not leak it; string(t) is the token. Every chat adapter uses it
// (telegram.Token and discord.Token are this type).
type Token = secret.String

// Redact hides token in err's message: client libraries put tokens in
// request URLs, and those URLs end up in their errors (see secret.Redact).
func Redact(err error, token Token) error { return secret.Redact(err, token) }
