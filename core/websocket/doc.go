// Package websocket defines the events of the "websocket" protocol, as in
// Channels' ASGI WebSocket spec, and the origin validator middleware.
//
// The adapter sends Connect, Receive and Disconnect into a scope's inbox; an
// application answers with Accept, Send and Close. A Close before Accept
// denies the handshake with HTTP 403.
package websocket
