package telegram

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

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
// The fake runs in a child process, so that the CPU time measured here is
// the hub's alone; "bare" is the same fake answered by the client library
// alone (its own polling loop, sendMessage for each update, no hub), the
// baseline the hub's CPU is compared with (cpu/bare) in the same run.
func BenchmarkUpdates(b *testing.B) {
	for _, chats := range []int{100, 1000} {
		b.Run(fmt.Sprintf("chats=%d/bare", chats), func(b *testing.B) { benchBare(b, chats) })
		b.Run(fmt.Sprintf("chats=%d/outbox=off", chats), func(b *testing.B) { benchUpdates(b, chats, store.SyncFull, false) })
		for _, sync := range []store.Sync{store.SyncFull, store.SyncNormal} {
			b.Run(fmt.Sprintf("chats=%d/outbox=%v", chats, sync), func(b *testing.B) { benchUpdates(b, chats, sync, true) })
		}
	}
}

// bareCPU is the last bare run's CPU per update (µs), by chats.
var bareCPU = map[int]float64{}

func benchUpdates(b *testing.B, chats int, sync store.Sync, outbox bool) {
	n := b.N
	fake := startFake(b, n, chats)
	db, err := store.Open(filepath.Join(b.TempDir(), "hub.db"), store.WithSync(sync))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ob telegram.Outbox
	if outbox {
		ob = db
	}
	a, err := telegram.New(telegram.Options{
		Bots:        []telegram.BotConfig{{Name: "bench", Token: token, APIURL: fake.url}},
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
	m := startMeasure(b, fake)
	go func() { done <- a.Run(ctx) }()
	m.wait(b, n+min(n, chats)) // every chat is greeted once, then each update answered
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	m.report(b, n, chats)
	// How many writes the store's writer commits per transaction: each
	// commit costs the same whatever it holds.
	st := db.Stats()
	b.ReportMetric(float64(st.Writes)/float64(max(st.Batches, 1)), "writes/commit")
}

// benchBare answers the same updates with go-telegram/bot alone: its
// polling loop, and for each update the reply (and each chat's greeting)
// sent as the hub's echo sends them, on a transport that keeps a
// connection per chat in flight as the hub's does.
func benchBare(b *testing.B, chats int) {
	n := b.N
	fake := startFake(b, n, chats)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 0, 256
	var greeted sync.Map
	var failed atomic.Pointer[error]
	fail := func(err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	api, err := bot.New(token,
		bot.WithServerURL(fake.url),
		bot.WithSkipGetMe(),
		bot.WithHTTPClient(2*time.Second, &http.Client{Timeout: 30 * time.Second, Transport: tr}), // long polls of 1 s, as the hub's
		bot.WithErrorsHandler(fail),
		bot.WithDefaultHandler(func(ctx context.Context, api *bot.Bot, u *models.Update) {
			m := u.Message
			if m == nil {
				return
			}
			if _, seen := greeted.LoadOrStore(m.Chat.ID, true); !seen {
				_, err := api.SendMessage(ctx, &bot.SendMessageParams{ChatID: m.Chat.ID, Text: "[Welcome " + m.From.FirstName + "!]"})
				fail(err)
			}
			_, err := api.SendMessage(ctx, &bot.SendMessageParams{ChatID: m.Chat.ID, Text: "You said: " + m.Text,
				ReplyParameters: &models.ReplyParameters{MessageID: m.ID}})
			fail(err)
		}))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	m := startMeasure(b, fake)
	go func() { api.Start(ctx); close(done) }()
	m.wait(b, n+min(n, chats))
	cancel()
	<-done
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	bareCPU[chats] = m.report(b, n, chats)
}

// measure is one run's clock and CPU times: this process's and the fake's.
type measure struct {
	fake         *fakeProc
	start        time.Time
	elapsed      time.Duration
	cpu, fakeCPU time.Duration // at the start, then spent
}

func startMeasure(b *testing.B, fake *fakeProc) *measure {
	b.ResetTimer()
	m := &measure{fake: fake, fakeCPU: time.Duration(fake.ask(b, "cpu")), cpu: cpuTime()}
	m.start = time.Now()
	return m
}

// wait returns once the fake got want sendMessage calls, and stops the
// clocks.
func (m *measure) wait(b *testing.B, want int) {
	for {
		got := m.fake.ask(b, "calls")
		if got >= int64(want) {
			break
		}
		if time.Since(m.start) > 10*time.Minute {
			b.Fatalf("only %d of %d calls", got, want)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	m.elapsed, m.cpu = time.Since(m.start), cpuTime()-m.cpu
	m.fakeCPU = time.Duration(m.fake.ask(b, "cpu")) - m.fakeCPU
	b.StopTimer()
}

// report checks the replies and reports the run's figures; it returns this
// process's CPU per update, in µs.
func (m *measure) report(b *testing.B, n, chats int) float64 {
	if got := m.fake.ask(b, "replies"); got != int64(n) {
		b.Fatalf("%d replies, want %d", got, n)
	}
	b.ReportMetric(float64(n)/m.elapsed.Seconds(), "updates/s")
	// CPU per update says what the machine could do unloaded; updates/s
	// on a shared VM depends on its neighbours (and the fake shares the
	// cores). cpu-µs/update is this process's: the hub's (or the bare
	// client's) alone; fake-cpu-µs/update the fake Bot API's.
	cpu := float64(m.cpu.Nanoseconds()) / 1e3 / float64(n)
	b.ReportMetric(cpu, "cpu-µs/update")
	b.ReportMetric(float64(m.fakeCPU.Nanoseconds())/1e3/float64(n), "fake-cpu-µs/update")
	if bare, ok := bareCPU[chats]; ok && !strings.HasSuffix(b.Name(), "/bare") {
		b.ReportMetric(cpu/bare, "cpu/bare")
	}
	return cpu
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
