// Package chat is the vocabulary every chat platform speaks: Telegram today,
// Discord, the console and WebSocket chat later.
//
// An adapter turns a platform's traffic into these events — [Message],
// [Edited] and, when an idle conversation's scope closes, [Disconnect] — and
// performs these actions — [Send], [Edit], [Delete], [React], [Typing]. A
// consumer written against them runs unchanged on every platform. What the
// common form lacks stays reachable: Message.Raw holds the platform's own
// update (a *models.Update on Telegram), and adapters may define their own
// typed events and actions beside these ones.
//
// [BotRouter] picks a consumer by the bot a conversation came through, and
// [ParseCommand] reads "/cmd@bot args" and "!cmd args" the same way on every
// platform.
//
// Identifiers are strings because platforms disagree on their shape
// (Telegram's integers, Discord's snowflakes); an adapter converts them back.
package chat
