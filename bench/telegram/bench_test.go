package telegram

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/telegram"
	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins/echo"
	"github.com/hubhq/hub/store"
)

const token = "424242:bench-token-0123456789abcdef"

// BenchmarkUpdates pushes b.N messages, spread over many chats, to the fake
// and times the hub from the first getUpdates to the last reply: journal,
// scope, echo, outbox write, sendMessage, outbox done — for each update.
func BenchmarkUpdates(b *testing.B) {
	for _, chats := range []int{100, 1000} {
		b.Run(fmt.Sprintf("chats=%d/outbox=off", chats), func(b *testing.B) { benchUpdates(b, chats, store.SyncFull, false) })
		for _, sync := range []store.Sync{store.SyncFull, store.SyncNormal} {
			b.Run(fmt.Sprintf("chats=%d/outbox=%v", chats, sync), func(b *testing.B) { benchUpdates(b, chats, sync, true) })
		}
	}
}

func benchUpdates(b *testing.B, chats int, sync store.Sync, outbox bool) {
	fake := telegramtest.New(b)
	tg := fake.AddBot(token, "bench_bot")
	tg.KeepRequests(false) // counted (Calls), not kept: the fake's own cost stays small
	db, err := store.Open(filepath.Join(b.TempDir(), "hub.db"), store.WithSync(sync))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n := b.N
	for i := range n {
		chat := int64(1 + i%chats)
		tg.PushMessage(chat, fmt.Sprint("user", chat), fmt.Sprint("m", i))
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ob telegram.Outbox
	if outbox {
		ob = db
	}
	a, err := telegram.New(telegram.Options{
		Bots:        []telegram.BotConfig{{Name: "bench", Token: token, APIURL: fake.URL()}},
		Runtime:     &core.Runtime{App: core.Named("echo", echo.New()), Store: db, Logger: quiet},
		Outbox:      ob,
		PollTimeout: time.Second,
		Limits:      telegram.Limits{Bot: 1e9, Chat: 1e9, Group: 1e9, Burst: 1 << 20},
		Logger:      quiet,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	go func() { done <- a.Run(ctx) }()
	// Every chat is greeted once, then each update answered.
	want := n + min(n, chats)
	for tg.Calls("sendMessage") < want {
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("only %d of %d calls", tg.Calls("sendMessage"), want)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if got := replies(tg, chats); got != n {
		b.Fatalf("%d replies, want %d", got, n)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "updates/s")
	// CPU per update (hub and fake together: they share the process) says
	// what the machine could do unloaded; updates/s on a shared VM depends
	// on its neighbours.
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/update")
	// How many writes the store's writer commits per transaction: each
	// commit costs the same whatever it holds.
	st := db.Stats()
	b.ReportMetric(float64(st.Writes)/float64(max(st.Batches, 1)), "writes/commit")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func replies(tg *telegramtest.Bot, chats int) int {
	n := 0
	for chat := range chats {
		for _, m := range tg.Sent(int64(1 + chat)) {
			if strings.HasPrefix(m.Text, "You said: ") {
				n++
			}
		}
	}
	return n
}
