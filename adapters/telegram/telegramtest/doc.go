// Package telegramtest is a fake Telegram Bot API server for tests, in the
// spirit of net/http/httptest: no network, no sleeps, and the real client
// (github.com/go-telegram/bot, or any other) talks to it unchanged.
//
//	fake := telegramtest.New(t)
//	bot := fake.AddBot("123:secret", "echo_bot")
//	// point the client at fake.URL(), then:
//	bot.PushMessage(42, "ada", "/start")
//	sent := bot.WaitSent(t, 42, 1)
//
// It serves /bot<token>/<method> like api.telegram.org: request parameters as
// a query string, JSON, urlencoded or multipart/form-data body; answers in
// the real envelopes ({"ok":true,"result":…} and {"ok":false,"error_code":…,
// "description":…}); getUpdates long-polls and forgets updates confirmed by
// a later offset. An unknown token gets 401, an unknown method 404.
//
// Failures are injected with [Bot.FailNext]. A 429 with retry_after is then
// enforced as Telegram does: every request to the same chat (or, for methods
// without a chat, to the bot) before it expires is refused with 429 again
// and counted in [Bot.FloodViolations]. Every request is recorded with its
// arrival time ([Bot.Requests]), so tests can check rate limits; a
// benchmark making many thousands can have them only counted
// ([Bot.KeepRequests], [Bot.Calls]).
//
// setWebhook works as on Telegram: pending updates are then posted to the
// hook, one at a time, with the X-Telegram-Bot-Api-Secret-Token header, and
// retried until it answers 2xx; getUpdates is refused with 409 meanwhile,
// as it is when a newer getUpdates call ends an older one.
//
// Chat ids follow Telegram's convention: positive ids are private chats with
// the user of the same id, negative ones are groups (supergroups, which may
// have forum topics).
package telegramtest
