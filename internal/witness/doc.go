// Package witness keeps, in a small process beside the hub, a copy of each
// socket the outbox makes calls on, so that when the hub dies — SIGKILL, a
// crash, the OOM killer — the kernel's count of the bytes the hub wrote to
// each can still be read, and written down where the next start finds it.
//
// Why: the attempt journal (package store) must know, for a call in flight
// at a crash, whether its request reached the platform; chat platforms
// have no idempotency key, so guessing wrong either repeats a message or
// loses one. The hub notes "the request is complete once this connection
// has carried N bytes" before its last write, and the witness, seeing the
// hub gone, notes how many bytes the connection had carried. The kernel
// keeps that count; the dead hub's last instruction does not matter.
//
// The witness is the hub's own executable run again with an environment
// variable this package reads in its init, so any program linking it (the
// hub, a test binary) can start one. It holds its lock file (LockPath)
// from its start until its lines are appended: Wait, at the next start,
// blocks on that lock.
//
// On systems other than Linux (TCP_INFO, SIOCOUTQ) there is no witness:
// Start returns errors.ErrUnsupported and the journal does without.
package witness
