package chatroom_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/websocket"
)

// BenchmarkIdleSocket reports what one joined, idle chat socket costs in
// the runtime and consumer (heap and goroutine stacks; the adapter's own
// buffers come on top): the hub's budget is 12 KiB per idle socket.
//
//	go test -tags libsqlite3 -run '^$' -bench IdleSocket ./plugins/chatroom
func BenchmarkIdleSocket(b *testing.B) {
	const n = 2000
	mem := layer.NewMemory(layer.Options{})
	rt := &core.Runtime{App: app(), Layer: mem}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	accepted := make(chan struct{}, n)
	send := func(ctx context.Context, ev core.Event) error {
		if _, ok := ev.(websocket.Accept); ok {
			accepted <- struct{}{}
		}
		return nil
	}
	for b.Loop() {
		before, bs := footprint()
		insts := make([]*core.Instance, n)
		for i := range insts {
			in, err := rt.Start(ctx, &core.Scope{Type: "websocket", Key: "websocket:bench", Path: "/ws/chat/lobby/"}, send)
			if err != nil {
				b.Fatal(err)
			}
			if err := in.Deliver(ctx, websocket.Connect{}); err != nil {
				b.Fatal(err)
			}
			insts[i] = in
		}
		for range n {
			<-accepted
		}
		after, as := footprint()
		b.ReportMetric(float64(after-before)/n, "B/socket")
		b.ReportMetric(float64(as-bs)/n, "stackB/socket")
		for _, in := range insts {
			_ = in.Deliver(ctx, websocket.Disconnect{Code: 1000})
			<-in.Done()
		}
	}
}

// footprint is the heap in use plus goroutine stacks, after a collection.
func footprint() (total, stacks uint64) {
	for range 3 { // stacks shrink by half per collection while mostly unused
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse, m.StackInuse
}
