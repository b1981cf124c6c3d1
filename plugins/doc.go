// Package plugins is the registry of consumers and pages that the hub's
// config refers to by name, the way Caddy modules and CoreDNS plugins are
// found: a plugin package registers itself in init, and importing it (a
// blank import in the hub binary, or in a user's own main package) is all
// the wiring there is.
//
//	func init() {
//		plugins.Register("echo", consumers.NewWebSocket(newEcho))
//		plugins.RegisterFactory("alerts", newAlerts) // built from its config options
//		plugins.RegisterHandler("chatroom", page)     // an HTTP page beside the consumer
//	}
//
// Consumers and pages live in two name spaces, so one plugin may use its
// name for both. Registering a name twice panics: it is a programming error
// found the first time the binary starts, like http.Handle's.
package plugins
