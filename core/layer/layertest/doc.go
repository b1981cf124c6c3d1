// Package layertest is the conformance suite every channel layer backend
// passes: the semantics of layer.Layer written once as tests, so the memory,
// Redis and NATS backends cannot drift apart.
//
// A backend's test calls Run with a constructor that returns a fresh layer
// configured with Options (small capacities and short expiries, so the suite
// runs in seconds). Channel and group names are random per subtest, so layers
// that share one server do not see each other's traffic.
//
// Backends without storage for absent receivers (NATS) keep a fixed-name
// channel from its first Receive on; the suite declares that interest with
// Listen before it sends to a fixed name, the way a worker starts receiving
// before anyone sends to it. For storing backends Listen is a no-op.
package layertest
