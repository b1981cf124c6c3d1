// Package discord is the hub's Discord adapter, built on
// github.com/bwmarrin/discordgo. It runs any number of bots at once, each on
// its own gateway connection.
//
// Every channel, DM and thread of every bot is one scope: type "discord",
// key "discord:<bot>:<channel>" ("discord:<bot>:<parent channel>:<thread>"
// for a thread, which Discord gives a channel id of its own), Bot the bot's
// name. A scope opens on the conversation's first event and closes after
// Options.IdleTimeout without one: the application gets a chat.Disconnect,
// then its instance is stopped. The conversation's state lives in the store
// and outlives the scope, so the next message resumes it.
//
// Gateway events become the common chat events — chat.Message for
// MESSAGE_CREATE, chat.Edited for MESSAGE_UPDATE — with discordgo's event in
// Raw, so a consumer written for package chat runs here unchanged; deletes,
// reactions and interactions (slash commands, buttons) arrive as this
// package's MessageDelete, ReactionAdd, ReactionRemove and Interaction. The
// bot's own messages and reactions are left out. Actions (chat.Send — a
// reply when ReplyTo is set —, Edit, Delete, React, Typing, and Respond for
// interactions) become REST calls.
//
// Several bots share no state: discordgo's endpoints are package variables
// naming discord.com, so instead of changing them each bot's session gets
// its own http.Client whose transport sends discord.com requests to the
// bot's BotConfig.APIURL. Gateway discovery (GET /gateway) goes through that
// client too, so the session dials the gateway its server names.
// Heartbeats, reconnection and RESUME (replaying what was dispatched while
// the connection was down) are discordgo's; the adapter hands the events to
// their scopes in the order the gateway dispatched them.
//
// Every call goes through a per-bot and a per-channel rate limiter
// (golang.org/x/time/rate). A 429 answer's retry_after is honoured: nothing
// more is sent to that channel (or, for calls without a channel, by that
// bot) before it expires, and the call is retried; network and server
// failures are retried with backoff. With Options.Outbox (the store) every
// call is written to the outbox first and made from there (package
// adapters/outbox): in order per channel, made after a crash if it was
// not, not made again if it was, once per event even if the event comes
// twice. A new message carries a nonce Discord dedupes on.
//
// A bot token never appears in logs or errors: every error that leaves the
// adapter is redacted, discordgo's own log stays at its error level (its
// debug level prints the IDENTIFY payload), and the Token type prints as
// "[redacted]".
package discord
