// Package crashcheck reads what a hub killed with SIGKILL left in its store,
// and checks the platform got every reply exactly once, for the crash
// tests of the Telegram adapter and the hub binary.
//
// Calls in flight at the kill are settled at the next start by the attempt
// journal (store/doc.go), with the witness's count for those the kill
// caught between their I and W lines; Read tells what that replay will
// settle, by running it on a copy. Check allows no repeat and no loss.
package crashcheck
