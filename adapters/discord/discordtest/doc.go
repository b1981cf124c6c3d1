// Package discordtest is a fake Discord for tests, in the spirit of
// net/http/httptest: one local server speaks both the REST API (JSON, under
// /api/v<n>) and the gateway (a WebSocket, JSON encoding, no compression), so
// the real client — github.com/bwmarrin/discordgo, or any other — talks to
// it unchanged once its requests for discord.com are sent to Server.URL
// (Server.Client does that for discordgo).
//
//	fake := discordtest.New(t)
//	bot := fake.AddBot("secret-token", "echo_bot")
//	// point the client at fake.URL(), then:
//	fake.PushMessage("chan-1", "guild-1", "ada", "hello")
//	sent := fake.WaitSent(t, "chan-1", 1)
//
// The gateway follows Discord's protocol: HELLO (op 10) with a heartbeat
// interval, IDENTIFY (op 2, the token and intents are checked) answered by
// READY, heartbeats (op 1) acknowledged (op 11), dispatches (op 0) numbered
// by an increasing sequence, RESUME (op 6) replaying every dispatch after
// the client's last sequence before RESUMED, RECONNECT (op 7) and
// INVALID_SESSION (op 9) on demand. DropConnection cuts the socket without
// a close frame, as a network failure would, so the client has to resume.
// Dispatches honour the intents the bot identified with: without
// GUILD_MESSAGES no guild message reaches it, and without MESSAGE_CONTENT a
// guild message's content arrives empty, as on Discord.
//
// Unlike Discord, events pushed while a bot has no session (before it
// first identifies, or after its session was invalidated) wait for the next
// one, so a test need not synchronise with the client's connection.
//
// Failures are injected with FailNext. A 429 carries retry_after in its JSON
// body and Discord's Retry-After and X-RateLimit-* headers, and is enforced:
// a request to the same channel (or, for routes without one, from the same
// bot) before it expires is refused again and counted in FloodViolations.
// Every REST request is recorded with its arrival time (Requests). A
// message created with a nonce and enforce_nonce is created once: the same
// nonce from the same bot within NonceWindow gets the first message back,
// as on Discord (counted in Deduplicated).
package discordtest
