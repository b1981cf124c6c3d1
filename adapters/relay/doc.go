// Package relay lets a chat adapter act in conversations that have no open
// scope, and remember where the copies of hub messages went.
//
// A consumer outside a conversation — the bridge's relay, a worker,
// another process on the same layer — cannot send through a scope that is
// not open, and opening one would start the conversation's consumer (and
// its greeting) for nothing. Instead each bot of a chat adapter reads the
// layer channel chat.ActionChannel(platform, bot) for as long as it runs
// ([Run]) and performs each chat.ActionMessage through the adapter's own
// action path: its outbox, its rate limits, its per-chat order. The loop
// is here, once, for every chat adapter; an adapter supplies how a scope
// key names a conversation and how an action is performed in one.
//
// A chat.Send with a HubID is a copy of a hub message: once the platform
// has taken it, [Link] records its platform id in the store's message map,
// so a later edit, delete or reply of the hub message finds it. With a
// durable outbox the adapter's courier links it when the call is made —
// even one held by a long retry_after, or made after a restart — so the
// HubID is stored with the call (see outbox.Call).
package relay
