// Package hubtest is the test kit for plugin authors, the Go form of Django
// Channels' communicators and the sibling of net/http/httptest: it drives
// any core.Application in-process — no network, no sleeps — through the
// same core.Runtime the hub uses, so groups, state, panics and inbox
// policies behave as they do in production.
//
//	func TestEcho(t *testing.T) {
//		c := hubtest.WebSocket(t, app, "/ws/echo/")
//		c.Connect()
//		c.SendText("hi")
//		if got := c.ReceiveText(); got != "You said: hi" {
//			t.Fatalf("got %q", got)
//		}
//	}
//
// A [Hub] is the shared part of a hub in a test: one channel layer (in
// memory) and one store (a real SQLite file in t.TempDir()). Communicators
// made from one Hub talk to each other through its groups, and
// [Hub.Restart] closes and reopens the store to prove state survives a
// restart. [WebSocket] is the shortcut for a communicator with a hub of its
// own.
//
// The communicator plays the adapter's part, as adapters/websocket does: a
// Close from the application is answered with a Disconnect carrying the
// same code (the close handshake completes, and Disconnect is always a
// scope's last event) or 1006 for a denied handshake, [Hub.Restart] closes
// live sockets with 1001 like a hub shutting down, and an
// application that returns without closing gets the close the adapter would
// send: 1000 after a normal return, 1011 after an error or panic, 1013 when
// its inbox overflowed.
//
// Every wait has a deadline (1 s unless [Timeout] says otherwise) and fails
// the test with what was expected and what came instead. The one inherent
// window is [WebSocketCommunicator.ExpectNothing], which watches for
// NothingWindow (50 ms): proving that nothing arrives needs some span of
// time, and a short one keeps suites fast while catching the usual bug — a
// reply sent where none was due arrives within microseconds in-process.
package hubtest
