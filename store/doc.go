// Package store is the hub's SQLite database: scopes, scope state and, as
// migrations are appended, everything else the hub must remember across
// restarts: the outbox of outgoing platform calls, adapter checkpoints, the
// journal of platform updates not yet handled, and registered bot tokens.
// One file in WAL mode is shared by a single writer goroutine and a
// small pool of query-only reader connections. Every write is a closure
// queued to the writer, which takes everything waiting (up to 256 writes) and
// commits it in ONE transaction, so N concurrent writers cost one fsync, not
// N; a write that fails is undone alone (the batch is rerun with
// savepoints), so it does not fail its neighbours. The schema is an
// append-only list of migrations (migrations.go) tracked in PRAGMA
// user_version.
//
// # Durability
//
// SetState, DeleteState, AppendState, Flush, and the writes of the outbox,
// checkpoints, inbound journal and tokens (OutboxAdd, OutboxDone,
// OutboxRetry, OutboxFail, SetCheckpoint, InboundAdd, TokenAdd,
// TokenRemove) return only after the transaction holding the write has
// committed. With the default
// synchronous=FULL (SyncFull) the WAL is fsynced at that commit, so the write
// survives a process crash, an OS crash and power loss. With
// WithSync(SyncNormal) it survives a process crash, but an OS crash or power
// loss may roll back the most recent commits (never corrupt the file).
// If a write returns an error it did not commit, except ctx.Err(): a caller
// whose context ends while waiting gets ctx.Err() at once, and its write is
// skipped if the writer has not reached it yet, but may still commit if the
// writer already had.
//
// ScopeOpened, ScopeSeen, ScopeClosed and InboundHandled are fire-and-forget: they queue the
// write and return without waiting. They are committed with the next batch,
// normally within one transaction time (about a millisecond to one fsync)
// of the call, so a crash loses at most the ones queued or in flight at that
// moment. If the queue (4096 writes) is full they are dropped and counted in
// Stats.Dropped rather than block the caller. Flush waits for all of them;
// Close flushes everything queued before it closes the file.
//
// # The attempt journal
//
// The outbox row of a call is committed before the call and after its
// answer; a crash in between would make the call again at the next start.
// The attempt journal (journal.go, a file named JournalPath beside the
// database) settles those calls. An adapter appends, through OutboxWrite,
// "I id conn end" (the request is whole once connection conn has carried
// end bytes), makes the request's last write, and appends "W id"; then
// "R id result" when the platform accepted it and "E id" when the attempt
// failed (OutboxAnswered, OutboxErrored). Open replays it before anything
// reads the outbox: a pending entry whose last line is R is marked sent
// with that result; W, sent with LastError InDoubt (the platform got the
// whole request; its answer was lost with the process); E or nothing
// leaves it pending, to be made once.
//
// I alone means the crash fell right at the request's last write: before
// it or after it, two system calls apart, and only the kernel knows which.
// So the connection's socket is shared (Wire) with a witness, a small
// process beside the hub (package internal/witness) that outlives it: when
// the hub is gone it appends "C conn n", the kernel's count of the bytes
// the hub wrote to that connection, and Open waits for it. n ≥ end: the
// request left whole, the entry is sent (InDoubt); less: it never left
// whole, the platform discarded it, the call is made again. Without a
// witness (not Linux, or it could not start) the entry is made again: the
// one case where a crash repeats a call. Replayed says what Open settled.
//
// Lines are plain appends, not fsynced: a process crash, SIGKILL included,
// loses none (they are in the OS's page cache), an OS crash or power loss
// may lose the last ones, and then those calls are made again. A request
// written in full but lost on the way (the connection broke) before a
// crash is not made again. The journal is locked (flock) by the process
// appending to it, and another process opening the database meanwhile
// does not replay it.
//
// # Concurrency
//
// A DB is safe for concurrent use. Writes are applied in queue order by one
// goroutine, so a read-modify-write such as AppendState is atomic without
// locks. A read that starts after a write returned sees that write (WAL
// readers see every committed transaction); a read never blocks a write or
// vice versa. State with a TTL is invisible once expired; expired rows are
// deleted lazily on read and by a periodic sweep that Close stops. The same
// sweep forgets message-map copies older than the retention (30 days,
// WithMessageRetention). Close waits for the writer and the sweep, so no
// goroutine outlives it.
package store
