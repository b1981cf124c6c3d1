// Package core is the heart of Hub: one small idea, composed.
//
// Everything that handles a scope is an [Application] — a consumer, a router,
// a middleware, a whole project — the way everything in net/http is a
// Handler. An adapter (WebSocket, Telegram, MQTT, …) turns platform traffic
// into a [Scope] (what persists for one connection or conversation) and a
// stream of typed [Event] values. The [Runtime] starts one instance of the
// application per scope: a goroutine that reads the scope's bounded [Inbox]
// one event at a time, so a consumer is a plain sequential loop while
// different scopes run in parallel.
//
// Channel-layer messages (see package layer) arrive in the same inbox as
// protocol events, so a consumer never needs a second loop; the instance's
// channel name is in its scope, and the groups it joins through the scope are
// always left when the scope ends, even after a panic.
//
// Routers ([ProtocolTypeRouter], [URLRouter]) and middleware are
// Applications too, so they nest freely. Package core imports no adapter.
package core
