package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
)

// writeOp is one unit of work run inside the writer's batch transaction. If
// it returns an error, only its own changes are undone and the rest of the
// batch still commits (see commit). It may be run more than once, so it must
// touch nothing but tx and its own result variables.
type writeOp func(ctx context.Context, tx *sql.Tx) error

// writeReq is a queued write: an op, or a mark. done is nil for
// fire-and-forget writes.
type writeReq struct {
	ctx  context.Context // the caller's; checked before running so abandoned writes are skipped
	op   writeOp
	mark mark       // used when op is nil
	done chan error // buffered (1) so the writer never blocks on a caller that gave up
}

// A mark is a small write that callers make once per message — an outbox
// entry marked done, a journaled update marked handled — and that the
// writer applies for a whole batch at once: the marks of one kind queued in
// a batch go in one statement, after the batch's ops, instead of one
// statement each. (At one update per call, the writer's time goes to
// statements: a statement per mark was a fifth of it.) Applying a mark
// later in its transaction is safe because marks only settle rows — set
// them done, delete them — that no op of the same batch reads back.
type mark struct {
	kind *markKind // nil: not a mark
	arg  any
}

// markKind applies marks of one kind. apply must give each mark the effect
// it would have alone, in any order; like an op it may be run more than
// once (see runBatch) and must touch nothing but tx.
type markKind struct {
	apply func(ctx context.Context, tx *sql.Tx, args []any) error
}

// run applies m alone, as an op: for a batch rerun with savepoints.
func (m mark) run(ctx context.Context, tx *sql.Tx) error {
	return m.kind.apply(ctx, tx, []any{m.arg})
}

// applyMark queues a mark and waits until its transaction has committed,
// as write does.
func (db *DB) applyMark(ctx context.Context, kind *markKind, arg any) error {
	return db.await(ctx, writeReq{ctx: ctx, mark: mark{kind: kind, arg: arg}, done: make(chan error, 1)})
}

// markAsync queues a mark without waiting, as writeAsync does.
func (db *DB) markAsync(kind *markKind, arg any) {
	db.queueAsync(writeReq{mark: mark{kind: kind, arg: arg}})
}

// write queues op and waits until the transaction holding it has committed.
// If ctx ends first it returns ctx.Err(); the op is then skipped if the writer
// has not started it yet, but may still commit if it already had.
func (db *DB) write(ctx context.Context, op writeOp) error {
	return db.await(ctx, writeReq{ctx: ctx, op: op, done: make(chan error, 1)})
}

// await queues req and waits for its commit, or for ctx.
func (db *DB) await(ctx context.Context, req writeReq) error {
	if err := db.enqueue(ctx, req); err != nil {
		return err
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// enqueue blocks while the queue is full, up to ctx.
func (db *DB) enqueue(ctx context.Context, req writeReq) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	select {
	case db.queue <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeAsync queues op without waiting for it, and without blocking: when the
// queue is full the op is dropped and counted, because callers of
// fire-and-forget writes (adapters on their hot path) must not stall on disk.
func (db *DB) writeAsync(op writeOp) { db.queueAsync(writeReq{op: op}) }

func (db *DB) queueAsync(req writeReq) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		db.dropped.Add(1)
		return
	}
	select {
	case db.queue <- req:
	default:
		db.dropped.Add(1)
	}
}

// runWriter is the only goroutine that writes. It takes whatever is queued
// (up to maxBatch) and commits it in one transaction: while one batch is
// fsyncing, the next one accumulates, so throughput grows with concurrency
// instead of paying one fsync per write. It exits when Close closes the queue
// and the queue is drained.
func (db *DB) runWriter() {
	defer close(db.writerDone)
	batch := make([]writeReq, 0, db.maxBatch)
	errs := make([]error, db.maxBatch)
	var marks markGroups
	for req := range db.queue {
		if len(db.queue) < db.maxBatch {
			// Let the goroutines that are about to write queue first: a
			// commit costs the same for one write as for a hundred (the
			// P7 benchmark: 7 writes a commit without this, 55 with it,
			// and 12 % less CPU per update). With nothing else to run it
			// returns at once, so an idle hub pays no latency for it.
			runtime.Gosched()
		}
		batch = append(batch[:0], req)
	fill:
		for len(batch) < db.maxBatch {
			select {
			case r, ok := <-db.queue:
				if !ok {
					break fill // closed: commit this batch; the range loop then ends
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.commit(batch, errs[:len(batch)], &marks)
		clear(batch) // drop references to callers' closures and contexts
	}
}

// commit runs batch in one transaction and reports each op's own result.
//
// It first runs the ops back to back (the common case: nothing fails). If
// one fails it rolls back and runs the batch again with each op in its own
// savepoint, so the failure undoes only that op. Savepoints on every op
// would cost two extra statements per write, which profiling showed to be a
// third of the writer's time, for the rare case of a failing write.
func (db *DB) commit(batch []writeReq, errs []error, marks *markGroups) {
	err := db.runBatch(batch, errs, marks, false)
	if errors.Is(err, errIsolate) {
		err = db.runBatch(batch, errs, marks, true)
	}

	ran := 0
	for i, r := range batch {
		switch {
		case errs[i] == errSkipped:
			errs[i] = r.ctx.Err()
		case err != nil:
			// Nothing in this batch is durable: every op gets the batch error.
			if errs[i] == nil {
				errs[i] = err
			}
			db.failed.Add(1)
		case errs[i] != nil:
			db.failed.Add(1)
		default:
			ran++
		}
	}
	if err == nil {
		db.batches.Add(1)
		db.writes.Add(uint64(ran))
	}
	for i, r := range batch {
		if r.done != nil {
			r.done <- errs[i]
		}
	}
}

var (
	// errIsolate asks commit to rerun a batch with savepoints.
	errIsolate = errors.New("store: an op failed; rerun batch isolated")
	// errSkipped marks an op whose caller gave up before it ran.
	errSkipped = errors.New("store: skipped")
)

// markGroups gathers a batch's marks by kind; the writer reuses it.
type markGroups []markGroup

type markGroup struct {
	kind *markKind
	args []any
}

func (g *markGroups) add(m mark) {
	for i := range *g {
		if (*g)[i].kind == m.kind {
			(*g)[i].args = append((*g)[i].args, m.arg)
			return
		}
	}
	*g = append(*g, markGroup{kind: m.kind, args: []any{m.arg}})
}

// reset empties the groups, keeping their kinds and memory.
func (g *markGroups) reset() {
	for i := range *g {
		clear((*g)[i].args)
		(*g)[i].args = (*g)[i].args[:0]
	}
}

// runBatch runs batch in one transaction, filling errs with each op's
// result, and returns the error that failed the whole batch, if any. Ops may
// thus run twice (the first run rolled back), so an op must have no effect
// outside tx beyond assigning its results. Marks are applied by kind after
// the ops; isolated, each runs alone, as an op.
func (db *DB) runBatch(batch []writeReq, errs []error, marks *markGroups, isolate bool) error {
	// A caller's cancellation must not interrupt a transaction shared with
	// other callers (go-sqlite3 interrupts the connection on ctx.Done), so the
	// transaction itself runs without one.
	ctx := context.Background()
	clear(errs)
	tx, err := db.wconn.BeginTx(ctx, nil) // BEGIN IMMEDIATE, per the DSN
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer marks.reset()
	for i, r := range batch {
		if r.ctx != nil && r.ctx.Err() != nil {
			errs[i] = errSkipped // its caller already returned; don't apply it
			continue
		}
		op := r.op
		if op == nil {
			if !isolate {
				marks.add(r.mark)
				continue
			}
			op = r.mark.run
		}
		if !isolate {
			if errs[i] = op(ctx, tx); errs[i] != nil {
				tx.Rollback() //nolint:errcheck // rerun follows; a broken connection fails it
				return errIsolate
			}
			continue
		}
		opErr, txErr := runOp(ctx, tx, op)
		if txErr != nil {
			tx.Rollback() //nolint:errcheck // the batch is already failing with txErr
			return fmt.Errorf("store: batch aborted: %w", txErr)
		}
		errs[i] = opErr
	}
	for _, g := range *marks {
		if len(g.args) > 0 && g.kind.apply(ctx, tx, g.args) != nil {
			// Which mark failed is found by the rerun, each alone.
			tx.Rollback() //nolint:errcheck // rerun follows; a broken connection fails it
			return errIsolate
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// runOp wraps op in a savepoint so its failure (opErr) undoes only its own
// changes and leaves the batch intact. txErr means the savepoint machinery
// itself failed, so the transaction can no longer be trusted and the whole
// batch must be rolled back.
func runOp(ctx context.Context, tx *sql.Tx, op writeOp) (opErr, txErr error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
		return nil, err
	}
	if opErr = op(ctx, tx); opErr != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO op; RELEASE op"); err != nil {
			return opErr, err
		}
		return opErr, nil
	}
	if _, err := tx.ExecContext(ctx, "RELEASE op"); err != nil {
		return nil, err
	}
	return nil, nil
}

// Flush returns once every write queued before it, fire-and-forget ones
// included, has committed: there is one FIFO queue and one writer, so an
// empty write is committed only after everything ahead of it.
func (db *DB) Flush(ctx context.Context) error {
	if err := db.write(ctx, func(context.Context, *sql.Tx) error { return nil }); err != nil {
		return fmt.Errorf("store: flush: %w", err)
	}
	return nil
}
