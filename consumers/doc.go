// Package consumers holds the generic consumers: the Go form of Django
// Channels' generic/websocket.py. A consumer turns the raw event loop of a
// core.Application into methods a plugin author fills in.
//
// An author writes one value per connection (newHandler is called once per
// scope) whose methods run one at a time on the scope's instance goroutine,
// so a handler keeps its per-connection fields without locks:
//
//	type Echo struct{}
//
//	func (Echo) Receive(c *consumers.WebSocketConn, m websocket.Receive) error {
//		return c.SendText("You said: " + m.Text)
//	}
//
//	app := consumers.NewWebSocket(func() consumers.WebSocketHandler { return Echo{} })
//
// Everything else is optional and found by type assertion, the way net/http
// finds http.Flusher: [Connector] (absent: accept at once), [Disconnector],
// and [Grouper] (static groups joined before Connect). Channel-layer messages
// arrive in the same loop and go to the function registered with
// [WebSocketConn.On] for their "type", Channels' chat.message → chat_message
// dispatch made explicit.
//
// [NewJSONWebSocket] is the JsonWebsocketConsumer: text frames are decoded
// into a Go type; frames it cannot decode close that one socket with a
// precise code (1003 binary, 1007 invalid JSON) and never the app.
//
// [NewChat] is the chat consumer: one [ChatHandler] per conversation, on
// every chat platform, with the common chat.* events and actions.
//
// The WebSocket consumer keeps little per connection (the hub's budget is
// 12 KiB per idle socket): a WebSocketConn is a few words and needs a map
// only for a second On type, and its idle loop keeps a lean stack so the
// runtime can shrink it.
package consumers
