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
// A chat consumer is tested the same way, as one conversation:
//
//	conv := hubtest.Chat(t, consumers.NewChat(newEcho))
//	conv.Say("hello")
//	conv.Expect("[Welcome Anonymous!]", "You said: hello")
//
// Any other application — an MQTT consumer, a worker, a router — is driven
// with raw events through [Application].
//
// A [Hub] is the shared part of a hub in a test: one channel layer (in
// memory) and one store (a real SQLite file in t.TempDir()). Communicators
// made from one Hub talk to each other through its groups, and
// [Hub.Restart] closes and reopens the store to prove state survives a
// restart. [WebSocket] and [Chat] are the shortcuts for a communicator
// with a hub of its own.
//
// Communicators play the adapter's part, as adapters/websocket does. A
// Close from the application is answered with a Disconnect carrying the
// same code (Disconnect is always a scope's last event), or 1006 for a
// denied handshake; an application that returns without closing gets the
// close the adapter would send: 1000 after a normal return, 1011 after an
// error or panic, 1013 when its inbox overflowed. [Hub.Restart] ends live
// sockets with 1001 and conversations with a "shutdown" Disconnect, like
// a hub stopping. A chat message the consumer sends gets an id
// ("sent-1", …), as a platform would give it.
//
// Every wait has a deadline (1 s unless [Timeout] says otherwise) and fails
// the test with what was expected and what came instead. The one inherent
// window is [WebSocketCommunicator.ExpectNothing], which watches for
// NothingWindow (50 ms): proving that nothing arrives needs some span of
// time, and a short one keeps suites fast while catching the usual bug — a
// reply sent where none was due arrives within microseconds in-process.
package hubtest
