// Package telegram is benchmark P7: updates per second through the
// Telegram adapter, from a local fake Bot API (telegramtest), with the
// durable outbox on and echo answering every update. It is only a
// benchmark: nothing runs in `go test ./...` without -bench.
//
//	go test -run '^$' -bench . ./bench/telegram
//
// The fake runs in a child process (this test binary again, see TestMain),
// so the CPU time measured is the hub's alone; the "bare" runs answer the
// same updates with the client library alone, the baseline.
//
// Results are in README.md.
package telegram
