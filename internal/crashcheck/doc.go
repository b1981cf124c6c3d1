// Package crashcheck reads what a hub killed with SIGKILL left in its store,
// for the crash tests of the Telegram adapter and the hub binary.
//
// After a SIGKILL, a call is made again only if the hub died between the
// request's last write and its W line in the attempt journal (two system
// calls apart; see store/doc.go): the platform has the request, the store
// has no trace of it having been written. On an idle machine that never
// happens in the tests; on a saturated one the writer can be preempted
// between the two calls and the kill land there (about 1 run in 12 with
// both cores busy). The tests accept a repeat only when Window proves it is
// such a call, and fail on any other repeat and on any loss.
package crashcheck
