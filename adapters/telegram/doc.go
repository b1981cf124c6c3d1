// Package telegram is the hub's Telegram adapter, built on
// github.com/go-telegram/bot. It runs any number of bots at once, each by
// long polling or behind a webhook.
//
// Polling confirms an update to Telegram (the next getUpdates offset) only
// once it is in its scope's inbox, so a crash loses none: Telegram sends
// unconfirmed updates again. With Options.Checkpoints the offset is also
// kept locally, so a restart does not hand over twice what it had already
// handed over. (The client library's own loop confirms updates as soon as
// they are queued in memory, so the adapter polls by itself and uses the
// library to send.)
//
// With Options.Outbox (the store) the adapter is crash-safe: updates are
// journaled before they are confirmed, every action is written to the
// outbox (keyed by the update being handled) before its call is made, and a
// restart replays both without taking any update's actions twice; the
// store's attempt journal tells it which calls in flight at the crash had
// reached Telegram, so those are not made again. README.md states the
// guarantee exactly, and the microseconds it leaves open.
//
// Every chat of every bot is one scope (and every forum topic its own):
// type "telegram", key "telegram:<bot>:<chat>[:<topic>]", Bot the bot's
// name. A scope opens on the chat's first update and closes after
// Options.IdleTimeout without one: the application gets a chat.Disconnect,
// then its instance is stopped. The conversation's state lives in the store
// and outlives the scope, so the next message resumes it.
//
// Updates become the common chat events — chat.Message, chat.Edited — with
// the *models.Update in Raw, so a consumer written for package chat runs
// here unchanged; callback queries and member changes arrive as this
// package's CallbackQuery and MemberUpdate, and any other update about a
// chat as Update. Actions (chat.Send, Edit, Delete, React, Typing and
// AnswerCallback) become Bot API calls.
//
// Every call goes through a per-bot and a per-chat rate limiter
// (golang.org/x/time/rate). A 429 answer's retry_after is honoured: nothing
// more is sent to that chat (or, for calls without a chat, by that bot)
// before it expires, and the call is retried; network and server failures
// are retried with backoff.
//
// A bot token never appears in logs or errors: the library puts it in
// request URLs, so every error that leaves the adapter is redacted, and the
// Token type prints as "[redacted]".
package telegram
