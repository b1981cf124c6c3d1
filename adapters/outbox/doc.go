// Package outbox is what chat adapters share to make their outgoing calls
// durable: the platform-agnostic part of the Telegram and Discord outboxes.
//
// An adapter describes a call as a value (its action type, stored as JSON)
// and hands it to its bot's Courier: Do writes it to the store's outbox
// (durable on return), queues it behind the earlier calls of its
// conversation and waits until it is made. Conversations proceed in
// parallel, each one's calls in order; a call held by a long retry_after,
// or failing in transit, stays at the head of its queue and frees the
// consumers waiting on it; one the platform refuses is given up and its
// error returned. LoadPending queues what a crash left before anything
// else, so a restart makes those calls first.
//
// A call that sends a copy of a hub message (Call.HubID, stored with the
// call) is linked in the store's message map when it is made — not when Do
// returns, which for a held call is before — so a held call, or one made
// after a restart, is linked too (see package relay).
//
// Calls an application makes while handling an event are keyed by that
// event (Tracker, Track): the event handled again — replayed after a crash,
// or delivered twice — writes the same keys, and Do makes none of its calls
// twice.
//
// Transport closes the last gap: a call the platform got just before a
// crash, whose answer the outbox had not yet recorded. It journals each
// attempt in the store's attempt journal (see package store) — I and W
// around the request's last write, its connection's socket shared with
// the journal's witness, R with the answer, E on a failure — so that the
// next start marks such a call sent instead of making it again, and makes
// again one that never left whole.
package outbox
