package store

import (
	"context"
	"strconv"
	"sync/atomic"
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
