// Package server assembles a running hub from a config.Config: the SQLite
// store, the channel layer, one core.Runtime per protocol with its router of
// named plugin consumers, the adapters, and the HTTP mux that serves plugin
// pages, /healthz and /metrics beside the WebSocket endpoints.
//
// New acquires everything (files, layer connections) and fails with a
// config.Error pointing at the offending line when a route cannot be built;
// Run serves until its context ends and then shuts down in the order that
// loses nothing: stop accepting, close sockets with 1001 so their consumers
// see a disconnect and finish their writes, close the layer, and finally
// flush and close the store.
package server
