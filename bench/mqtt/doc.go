// Command mqtt measures messages per second end to end through the hub's
// MQTT adapter against a bare paho client doing the same job, in one run on
// one machine, so the result is a ratio to a baseline taken seconds apart.
//
//	go run ./bench/mqtt                # QoS 0 and 1, 50,000 messages or 10 s each
//
// It starts its own mosquitto on a free loopback port. A publisher (paho)
// sends -n messages to in/<k> over -topics topics; a relay moves each to
// out/<k>; a subscriber counts the distinct messages that arrive on out/#.
// The relay is either the hub — adapters/mqtt, a core.Runtime with the
// in-memory layer and a SQLite store as `hub run` has them, and a TopicRouter
// routing in/{n} to a consumer that sends an mqtt.Publish to out/{n} — or a
// bare paho client that subscribes to in/+ and publishes from its message
// handler. A third relay, hub-split, is the hub with the consumer publishing
// through a second configured broker (Adapter.Publish); it found the QoS 1
// stall of a single connection, and since the adapter publishes over a
// connection of its own it is a control that should match hub. Each trial
// ends when every message has arrived or after -timeout; the rate is what
// arrived divided by the time from the first publish to the last arrival.
// The relays' trials alternate for -rounds rounds and the median of each is
// reported, with its ratio to bare. Results and their reading are in
// README.md.
//
// It is a command, not a Go benchmark, so `go test ./...` never runs it
// while `go vet ./...` still compiles it.
package main
