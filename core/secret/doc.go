// Package secret has the one type for values the hub must never print —
// bot tokens, webhook secrets, broker passwords, encryption keys — and
// Redact, for the errors of client libraries that put a token in a URL.
// config.Secret and chat.Token are this type.
package secret
