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
// After the upgrade an idle socket costs as little as the adapter can make
// it, because a hub may hold tens of thousands: no goroutine of the adapter
// at all, no read or write buffer and no timer. On Linux a reader whose
// buffer is empty parks the socket in one shared epoll set (EPOLLONESHOT),
// gives its read buffer back to a pool and exits; the poller's single
// goroutine starts a new reader, which takes a buffer again, when the
// client sends something. The reader waits for the next frame in its own
// bufio.Reader, which it hands gorilla through the hijack, so it can tell
// when the buffer is empty, and it consumes pongs itself, since gorilla
// would otherwise wait deep inside its frames for the next data message. A
// socket that has just sent a message keeps its reader for a few
// milliseconds more, so a busy client is not parked and woken for every
// message. Elsewhere (or over TLS) the reader stays, waiting in bufio with
// a small stack. Pings come from one goroutine per adapter, which visits
// the sockets in slots, one slot per tick.
//
// Nor is there a writer goroutine per socket. The adapter builds its frames
// itself, and a send (or a ping) with nothing queued before it writes its
// frame at once from the sender's goroutine, with one write(2) that never
// waits; only what the socket does not take goes to the connection's
// bounded queue, and a flusher goroutine, started then, writes until the
// queue is empty and exits. The connection gorilla writes through (a wire)
// lets one frame out at a time, from its first byte to its last, so
// gorilla's pongs and close answers never land inside a frame the flusher
// is finishing. A client that does not read fills its own queue, after
// which sends fail and the socket is closed with 1008 ("client too slow");
// the application never waits on the network, and other sockets never
// notice.
//
// Closing has one owner, the reader: whoever decides to close (the
// application, a full queue, Shutdown) only queues a close frame, and
// whoever must drop a socket (a failed write, a timeout) closes the network
// connection, starting a reader if the socket was parked. The reader sees
// the client's answer, a timeout or the dropped connection, closes the
// socket, delivers websocket.Disconnect and stops the instance. The first
// close code decided wins, so the application always learns the code the
// client was sent.
//
// To learn when an application returns without a goroutine per socket
// waiting on it, the adapter runs a copy of the caller's runtime whose
// application is wrapped: the wrapper reports the return through the
// scope's own SendFunc.
package websocket
