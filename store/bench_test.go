package store

import (
	"context"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hubhq/hub/core"
)

// BenchmarkSetState measures one durable write. Serial pays a commit per
// write; parallel shows what group commit buys: many writes share one.
func BenchmarkSetState(b *testing.B) {
	for _, s := range []Sync{SyncFull, SyncNormal} {
		b.Run("sync="+s.String()+"/serial", func(b *testing.B) {
			db, _ := openTest(b, WithSync(s))
			ctx := context.Background()
			v := []byte(`{"count":1}`)
			i := 0
			for b.Loop() {
				k := core.StateKey{Namespace: "bench", Scope: "s", Key: strconv.Itoa(i % 1000)}
				if err := db.SetState(ctx, k, v, 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportBatching(b, db)
		})
		b.Run("sync="+s.String()+"/parallel", func(b *testing.B) {
			db, _ := openTest(b, WithSync(s))
			ctx := context.Background()
			v := []byte(`{"count":1}`)
			var next atomic.Int64
			b.SetParallelism(16) // I/O bound: more writers than CPUs
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := core.StateKey{Namespace: "bench", Scope: "s", Key: strconv.FormatInt(next.Add(1)%1000, 10)}
					if err := db.SetState(ctx, k, v, 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportBatching(b, db)
		})
	}
}

func reportBatching(b *testing.B, db *DB) {
	if st := db.Stats(); st.Batches > 0 {
		b.ReportMetric(float64(st.Writes)/float64(st.Batches), "writes/batch")
	}
}

// BenchmarkOutboxWrite measures what the attempt journal adds to the last
// write of a request (300 bytes on a loopback connection): bare is the
// write alone; w the write and its W line; i+w adds the witness's part,
// the kernel count read and the I line before the write.
func BenchmarkOutboxWrite(b *testing.B) {
	p := make([]byte, 300)
	b.Run("bare", func(b *testing.B) {
		conn := dialRaw(b)
		for b.Loop() {
			conn.Write(func(fd uintptr) bool { //nolint:errcheck
				syscall.Write(int(fd), p) //nolint:errcheck
				return true
			})
		}
	})
	for _, witnessed := range []bool{false, true} {
		name := "w"
		if witnessed {
			name = "i+w"
		}
		b.Run(name, func(b *testing.B) {
			db, _ := openTest(b)
			conn := dialRaw(b)
			w := &Wire{conn: conn}
			if witnessed {
				var err error
				if w, err = db.Wire(conn); err != nil {
					b.Skip("no witness here:", err)
				}
			}
			var id int64
			for b.Loop() {
				id++
				if _, err, jerr := db.OutboxWrite(id, w, p); err != nil || jerr != nil {
					b.Fatal(err, jerr)
				}
				db.calls.settle(id) // as OutboxDone does: compactions copy only the calls in flight
			}
		})
	}
}
