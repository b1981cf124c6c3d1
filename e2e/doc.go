// Package e2e tests the real hub binary from the outside, as a user runs
// it: built once with go build, started with a config file, talked to over
// WebSockets and through a real browser (Debian's chromium via chromedp),
// and stopped with signals.
//
// Beside the chat room: two hubs sharing a room over Redis and over NATS,
// `hub worker` processes sharing a Redis channel, MQTT through mosquitto and
// through the embedded broker, and Telegram against the fake Bot API
// (telegramtest) in polling and webhook mode. Where no bundled plugin gives
// something to observe, the tests run testdata/hubplus: the hub binary with
// two plugins of their own, built the way a project adds plugins.
//
// The tests need a Go toolchain and cgo SQLite (-tags libsqlite3). The
// browser test needs /usr/bin/chromium, the others redis-server,
// nats-server, mosquitto with mosquitto_pub and mosquitto_sub; the tests
// start their own on free ports. A missing program skips its test, except
// in CI (CI=true), where it is a failure.
package e2e
