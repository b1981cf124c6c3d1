// Package server assembles a running hub from a config.Config: the SQLite
// store, the channel layer, one core.Runtime per protocol with its router of
// named plugin consumers, the adapters, and the HTTP mux that serves plugin
// pages, /healthz and /metrics beside the WebSocket endpoints.
//
// The protocols: WebSocket (URLRouter of routes.websocket), MQTT (one
// TopicRouter per broker, the embedded broker included), Telegram (a router
// on Scope.Bot). Each has its own runtime and metrics; all share the layer
// and the store. Worker assembles `hub worker`: a ChannelNameRouter of
// routes.channel on the same layer.
//
// New acquires everything (files, layer connections, the embedded broker's
// port) and fails with a config.Error pointing at the offending line when a
// route cannot be built; Run serves until its context ends and then shuts
// down in the order that loses nothing: stop accepting, close sockets with
// 1001 so their consumers see a disconnect and finish their writes, stop the
// MQTT and Telegram adapters (which close their scopes), then the embedded
// broker, stop the plugins' services (plugins.Service) and close the plugins
// that hold resources (io.Closer: an exec plugin's process), close the
// layer, and finally flush and close the store. An adapter
// that stops on its own (a bot token Telegram refuses) stops the hub with
// its error.
package server
