// Package outbox is the part of chat adapters' durable outgoing calls that
// does not depend on the platform. The store's outbox holds every call
// before it is made; this package records, in the store's attempt journal,
// how far each attempt got — written to the platform, answered, failed —
// so that a hub killed mid-call neither makes the call again at its next
// start nor loses it.
//
// Transport wraps an adapter's *http.Transport so that the requests of an
// outbox entry's call are journaled.
package outbox
