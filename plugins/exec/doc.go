// Package exec runs a chat or WebSocket consumer written in any language as
// an external process that speaks newline-delimited JSON on stdin and
// stdout: the plugin for people who will not rebuild the hub.
//
// One process serves every scope routed to the plugin, multiplexed by scope
// key. It is started lazily, by the first scope (or by Plugin.Start, to fail
// fast at startup), shakes hands (hub.hello, plugin.hello with the protocol
// version), then receives each scope's events and answers with actions:
// chat.send and the other chat actions, layer group and channel sends, and
// state.get/state.set on the conversation's persistent state. Its stderr
// goes to the hub's log under the plugin's name.
//
// Ordering is kept per scope by acknowledgement: a scope writes its next
// event only once the plugin has acknowledged the previous one ("done"), or
// EventTimeout has passed, which is logged. The reader of the plugin's
// stdout never blocks: it queues each action on its scope, and the scope's
// own goroutine performs it, so an action that waits (a rate-limited
// Telegram call) holds up only its own conversation.
//
// A process that exits or crashes is started again after an exponential,
// capped backoff. Events that arrive meanwhile wait in their scope's bounded
// inbox under the runtime's policy (block, drop_oldest or close). An event
// the process may have read before it died is lost and logged (at most
// once, so a message that crashes the plugin is not replayed into a crash
// loop); one still queued for its stdin goes to the next process. A
// handshake with another protocol version is permanent: the process is
// not restarted and the plugin's scopes end with ErrProtocol. Lines that
// are not protocol messages are logged, counted and skipped.
//
// docs/plugin-protocol.md is the protocol's reference; examples/plugins
// holds echo bots in Python and Node.
package exec
