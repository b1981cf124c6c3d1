// Package chattest is what the chat adapters' tests share: running an
// adapter under test (Start) with a runtime, a store and logs of its own,
// waiting on what it does (Eventually), and the hub's side of a relay test
// (Relay), so that adapters/telegram's and adapters/discord's tests keep
// only what is their platform's: its options, its fake server, its ids.
//
// Start owns the adapter's goroutine and the logs: the adapter's logger
// and the standard logger (where client libraries such as discordgo
// write) go to one Buffer, and when the test ends the adapter is shut down
// and the logs are checked for every bot's token. A failed test prints
// the logs.
//
// It is internal to the adapters: a plugin author tests a consumer with
// hubtest, which needs no adapter at all.
package chattest
