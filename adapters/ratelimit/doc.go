// Package ratelimit paces a chat bot's outgoing API calls: one rate for
// the whole bot, one per conversation (a Telegram chat, a Discord channel),
// and a 429's retry_after held for the conversation — or the whole bot —
// it names, with failed calls retried after a growing backoff.
//
// It exists because the Telegram and Discord adapters had grown two copies
// of the same limiter. What differs between the platforms — the default
// rates, how a conversation is keyed and which rate it gets, how a 429
// carries its retry_after, which failures are worth retrying — is passed
// in Config; the waiting, holding and retrying live here once.
package ratelimit
