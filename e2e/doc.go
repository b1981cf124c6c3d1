// Package e2e tests the real hub binary from the outside, as a user runs
// it: built once with go build, started with a config file, talked to over
// WebSockets and through a real browser (Debian's chromium via chromedp),
// and stopped with signals.
//
// The tests need a Go toolchain and cgo SQLite (-tags libsqlite3). The
// browser test needs /usr/bin/chromium; without it the test is skipped,
// except in CI (CI=true), where a missing browser is a failure.
package e2e
