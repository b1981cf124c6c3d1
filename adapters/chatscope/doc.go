// Package chatscope is the table of open conversation scopes a chat
// adapter keeps: a conversation's scope opens on its first event, gets its
// events in order, closes after a spell of idleness with a chat.Disconnect
// and Instance.Stop, and every scope closes the same way on shutdown.
//
// It exists because the Telegram and Discord adapters had grown two copies
// of this bookkeeping, whose races (an event arriving as its scope goes
// idle, an application returning while events wait) are easy to get
// subtly wrong twice. What differs — how a scope is started, what is
// cleaned up after it, whether accepted events go in before the
// Disconnect — is passed in Config.
package chatscope
