// Package websocket is the hub's WebSocket adapter: an http.Handler, built on
// gorilla/websocket, that turns each WebSocket connection into one scope run
// by a core.Runtime, the way Daphne serves Channels' WebSocket consumers.
//
// The handshake belongs to the application. ServeHTTP starts the scope's
// instance before upgrading, delivers websocket.Connect and waits for the
// application's first action: Accept upgrades the connection, Close answers
// HTTP 403, an application that ends first gets 404 (no route) or 500, and
// one that stays silent past HandshakeTimeout gets 504. So routers and
// middleware (core.URLRouter, websocket.OriginValidator) decide who may
// connect, not the adapter.
//
// After the upgrade a connection costs as little as the adapter can make it,
// because a hub may hold tens of thousands of idle sockets: one reader
// goroutine (started fresh, so the HTTP server's request state is freed), a
// 512-byte read buffer, write buffers taken from a shared pool only while a
// message is being written, and a timer for pings. There is no writer
// goroutine per socket: a send appends to the connection's bounded queue and
// starts a flusher only when none is running; the flusher writes until the
// queue is empty and exits. A client that does not read fills its own queue,
// after which sends fail and the socket is closed with 1008 ("client too
// slow"); the application never waits on the network, and other sockets
// never notice.
//
// Closing has one owner, the reader goroutine: whoever decides to close (the
// application, a full queue, Shutdown) only queues a close frame; the
// reader sees the client's answer, a timeout or a dropped connection, closes
// the socket, delivers websocket.Disconnect and stops the instance. The first
// close code decided wins, so the application always learns the code the
// client was sent.
//
// To learn when an application returns without a goroutine per socket
// waiting on it, the adapter runs a copy of the caller's runtime whose
// application is wrapped: the wrapper reports the return through the
// scope's own SendFunc.
package websocket
