// Package server assembles a running hub from a config.Config: the SQLite
// store, the channel layer, one core.Runtime per protocol with its router of
// named plugin consumers, the adapters, and the HTTP mux that serves plugin
// pages, /healthz and /metrics beside the WebSocket endpoints.
//
// The protocols: WebSocket (URLRouter of routes.websocket), MQTT (one
// TopicRouter per broker, the embedded broker included), Telegram and
// Discord (a router on Scope.Bot). Each has its own runtime and metrics; all
// share the layer and the store. Every bot and every MQTT broker connection
// runs an adapter of its own (a unit), so that one can be started or
// stopped alone. Worker assembles `hub worker`: a ChannelNameRouter of
// routes.channel on the same layer.
//
// Each route's consumer is built once; a plugins.Service among them runs
// beside the hub while a route uses it, and an io.Closer is closed when none
// does any more.
//
// New acquires everything (files, layer connections, the embedded broker's
// port) and fails with a config.Error pointing at the offending line when a
// route cannot be built; Run serves until its context ends and then shuts
// down in the order that loses nothing: stop accepting, close sockets with
// 1001 so their consumers see a disconnect and finish their writes, stop the
// bots and MQTT connections (which close their scopes), then the embedded
// broker, stop the plugins' services (plugins.Service) and close the plugins
// that hold resources (io.Closer: an exec plugin's process), close the
// layer, and finally flush and close the store. A bot or connection started
// with the hub that stops on its own (a bot token Telegram refuses) stops
// the hub with its error.
//
// Reload applies a config read again without a restart: it builds all of
// it first and changes nothing on an error; then it swaps the routers (an
// atomic pointer each runtime resolves new scopes through, so open scopes
// keep the consumer they started with), keeps the consumers of unchanged
// routes and the units of unchanged bots and brokers, and starts, stops or
// restarts the rest. Settings only a restart can change keep their running
// value, with a warning at their line.
package server
