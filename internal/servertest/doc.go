// Package servertest runs a real server (redis-server, nats-server,
// mosquitto) of a test's own, on a free port in a temp directory, that a
// fault test can stop and start again on the same port. Every test of the
// hub that needs such a server starts it here; Redis, NATS and Mosquitto
// say how each is started and how it greets.
//
// A binary that is not installed skips the test, except in CI (CI=true),
// where it must be installed and its absence fails the test: Need and
// Missing say so for any other tool a test runs.
package servertest
