package main

import (
	"github.com/hubhq/hub/bench"

	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/redis"
)

//go:embed p6_channels_redis.py
var p6Python []byte

// pythonBinary is Debian's python3, which has python3-channels-redis (a
// python3 earlier on PATH may not).
const pythonBinary = "/usr/bin/python3"

// p6Main is benchmark P6: GroupSend on the hub's Redis layer against
// channels_redis' group_send, on the same redis-server in the same run.
func p6Main(args []string) error {
	fs := flag.NewFlagSet("p6", flag.ExitOnError)
	members := fs.Int("members", 10, "channels in the group")
	count := fs.Int("count", 2000, "group sends in the throughput phase")
	rounds := fs.Int("rounds", 200, "group sends in the rounds phase (one in flight)")
	window := fs.Int("window", 50, "throughput phase: group sends in flight (sent, not yet received by every member); below the capacity of 100")
	size := fs.Int("size", 100, "bytes of text in each message")
	senders := fs.Int("senders", 1, "throughput phase: concurrent senders (goroutines / asyncio tasks) sharing the window; 1 is a plain group_send loop")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the hub side to this file (of its last pass)")
	passes := fs.Int("passes", 2, "passes; the first runs the hub first, the second channels_redis first, and so on")
	limit := fs.Duration("timeout", 110*time.Second, "bound on the whole run")
	_ = fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()

	if _, err := os.Stat(pythonBinary); err != nil {
		return fmt.Errorf("%s missing: %w", pythonBinary, err)
	}
	rd, err := startRedis()
	if err != nil {
		return err
	}
	defer rd.stop()
	url := "redis://" + rd.addr() + "/0"

	fmt.Printf("layers p6: %s, %s, GOMAXPROCS=%d, NumCPU=%d (both sides and redis-server share them); load average %s\n",
		time.Now().UTC().Format(time.RFC3339), runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), loadAvg())
	fmt.Printf("one redis-server; group of %d process-local channels of a receiving layer, sent to from a second layer in the same process; message {type, seq, ts, text: %d B};\n"+
		"throughput: %d group sends, %d in flight, %d sender(s); rounds: %d group sends, 1 in flight; channels_redis on %s; %d passes, alternating which side goes first\n\n",
		*members, *size, *count, *window, *senders, *rounds, pythonBinary, *passes)

	type pair struct{ hub, py p6Result }
	pairs := make([]pair, *passes)
	fmt.Println("| pass | side | phase | group sends/s | deliveries/s | p50 | p99 | max | sender+receivers CPU/send | redis-server CPU/send |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for pass := range *passes {
		sides := []string{"hub", "channels_redis"}
		if pass%2 == 1 { // a drift in the machine's load favours neither side
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			var r p6Result
			var err error
			if side == "hub" {
				stop := startProfile(*cpuProfile)
				r, err = p6Go(ctx, url, rd, pass, *members, *count, *rounds, *window, *senders, *size)
				stop()
				pairs[pass].hub = r
			} else {
				r, err = p6Py(ctx, url, rd, pass, *members, *count, *rounds, *window, *senders, *size)
				pairs[pass].py = r
			}
			if err != nil {
				return fmt.Errorf("%s: %w", side, err)
			}
			for _, p := range []struct {
				name string
				ph   p6Phase
			}{{"throughput", r.Throughput}, {"rounds", r.Rounds}} {
				fmt.Printf("| %d | %s | %s | %.0f | %.0f | %s | %s | %s | %.1f µs | %.1f µs |\n", pass+1, r.Impl, p.name, p.ph.rate(), p.ph.deliveryRate(),
					ms(p.ph.P50), ms(p.ph.P99), ms(p.ph.Max), p.ph.perSend(p.ph.CPU), p.ph.perSend(p.ph.RedisCPU))
			}
		}
	}
	fmt.Printf("\nload average after: %s\n\n", loadAvg())
	fmt.Println("hub/channels_redis, pass by pass (group sends/s and CPU: hub/channels_redis; latency: channels_redis/hub, so higher is better for the hub in the first three columns):")
	fmt.Println()
	fmt.Println("| pass | phase | group sends/s | p50 | p99 | client CPU per send | redis-server CPU per send |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for pass, pr := range pairs {
		for _, p := range []struct {
			name  string
			h, py p6Phase
		}{{"throughput", pr.hub.Throughput, pr.py.Throughput}, {"rounds", pr.hub.Rounds, pr.py.Rounds}} {
			fmt.Printf("| %d | %s | **%.1f×** | %.1f× | %.1f× | %.2f× | %.2f× |\n", pass+1, p.name, p.h.rate()/p.py.rate(),
				float64(p.py.P50)/float64(p.h.P50), float64(p.py.P99)/float64(p.h.P99),
				p.h.perSend(p.h.CPU)/p.py.perSend(p.py.CPU), p.h.perSend(p.h.RedisCPU)/p.py.perSend(p.py.RedisCPU))
		}
	}
	return nil
}

// p6Result is one side's numbers; the Python script prints the same shape.
type p6Result struct {
	Impl       string  `json:"impl"`
	Throughput p6Phase `json:"throughput"`
	Rounds     p6Phase `json:"rounds"`
}

type p6Phase struct {
	Messages   int           `json:"messages"`
	Deliveries int           `json:"deliveries"`
	Elapsed    time.Duration `json:"elapsed_ns"` // first send to last delivery
	CPU        time.Duration `json:"cpu_ns"`     // the sending and receiving process
	P50        time.Duration `json:"p50_ns"`     // send → receive, per delivery
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	RedisCPU   time.Duration `json:"-"`
}

func (p p6Phase) rate() float64         { return float64(p.Messages) / p.Elapsed.Seconds() }
func (p p6Phase) deliveryRate() float64 { return float64(p.Deliveries) / p.Elapsed.Seconds() }
func (p p6Phase) perSend(d time.Duration) float64 {
	return float64(d.Nanoseconds()) / 1e3 / float64(p.Messages)
}

// p6Py runs the channels_redis side.
func p6Py(ctx context.Context, url string, rd *broker, pass, members, count, rounds, window, senders, size int) (p6Result, error) {
	var r p6Result
	dir, err := os.MkdirTemp("", "bench-layers-p6-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "p6_channels_redis.py")
	if err := os.WriteFile(script, p6Python, 0o644); err != nil {
		return r, err
	}
	// The script times its own phases; redis-server's CPU is taken over the
	// whole script here and split between the phases by message count below.
	cmd := exec.CommandContext(ctx, pythonBinary, script, url, fmt.Sprintf("p6py%d_%d", os.Getpid(), pass),
		strconv.Itoa(members), strconv.Itoa(count), strconv.Itoa(rounds), strconv.Itoa(window), strconv.Itoa(size), strconv.Itoa(senders))
	cmd.Stderr = os.Stderr
	rcpu0 := bench.CPUTime(rd.pid())
	out, err := cmd.Output()
	if err != nil {
		return r, err
	}
	rcpu := bench.CPUTime(rd.pid()) - rcpu0
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("%w: %s", err, out)
	}
	// Per-phase redis CPU is not separable from outside the script: charge
	// it to the phases by message count (an upper bound: setup included).
	total := r.Throughput.Messages + r.Rounds.Messages
	r.Throughput.RedisCPU = rcpu * time.Duration(r.Throughput.Messages) / time.Duration(total)
	r.Rounds.RedisCPU = rcpu * time.Duration(r.Rounds.Messages) / time.Duration(total)
	return r, nil
}

// p6Go runs the hub side: the same shape as the Python script.
func p6Go(ctx context.Context, url string, rd *broker, pass, members, count, rounds, inflight, senders, size int) (p6Result, error) {
	r := p6Result{Impl: "hub"}
	opts := redis.Options{Hosts: []string{url}, Prefix: fmt.Sprintf("p6go%d_%d", os.Getpid(), pass)}
	// Two layers, as two processes would have: the sender's and the
	// receivers'. (A GroupSend to members of its own layer skips Redis.)
	sender, err := redis.New(ctx, opts)
	if err != nil {
		return r, err
	}
	defer sender.Close()
	receiver, err := redis.New(ctx, opts)
	if err != nil {
		return r, err
	}
	defer receiver.Close()
	const group = "p6"
	channels := make([]string, members)
	for i := range channels {
		if channels[i], err = receiver.NewChannel(ctx, "specific"); err != nil {
			return r, err
		}
		if err := sender.GroupAdd(ctx, group, channels[i]); err != nil {
			return r, err
		}
	}

	total := 1 + count + rounds
	counts := make([]atomic.Int32, total)
	// window holds a token per group send not yet received by every member:
	// a sender puts one in before sending, the member completing it takes
	// one out.
	var window chan struct{}
	var completed, last atomic.Int64
	lat := make([][]time.Duration, members) // current phase
	var phaseMu sync.Mutex                  // held by receivers per message; run takes it to switch phases
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make([]error, members)
	for i, ch := range channels {
		wg.Go(func() {
			for {
				msg, err := receiver.Receive(rctx, ch)
				now := time.Now()
				if err != nil {
					if rctx.Err() == nil {
						errs[i] = err
					}
					return
				}
				seq, ok1 := toInt(msg["seq"])
				ts, ok2 := toInt(msg["ts"])
				if !ok1 || !ok2 || seq < 0 || seq >= int64(total) {
					errs[i] = fmt.Errorf("bad message %v", msg)
					return
				}
				phaseMu.Lock()
				lat[i] = append(lat[i], now.Sub(time.Unix(0, ts)))
				w := window
				phaseMu.Unlock()
				if counts[seq].Add(1) == int32(members) {
					last.Store(now.UnixNano())
					completed.Add(1)
					<-w
				}
			}
		})
	}
	defer func() { stop(); wg.Wait() }()

	pad := strings.Repeat("x", size)
	var next atomic.Int64 // the next sequence number
	stuck := func() error {
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return fmt.Errorf("group sends not received by every member after 10 s (%d complete)", completed.Load())
	}
	// run sends n messages from senders goroutines, at most inflight
	// incomplete at a time, and waits until every member has them all.
	run := func(n, inflight, senders int) (p6Phase, error) {
		phaseMu.Lock()
		for i := range lat {
			lat[i] = lat[i][:0]
		}
		window = make(chan struct{}, inflight)
		w := window
		phaseMu.Unlock()
		end := next.Load() + int64(n)
		start := time.Now()
		cpu0, rcpu0 := bench.CPUTime(os.Getpid()), bench.CPUTime(rd.pid())
		sendErrs := make([]error, senders)
		var sg sync.WaitGroup
		for k := range senders {
			sg.Go(func() {
				for {
					seq := next.Add(1) - 1
					if seq >= end {
						return
					}
					select {
					case w <- struct{}{}:
					case <-time.After(10 * time.Second):
						sendErrs[k] = stuck()
						return
					}
					msg := layer.Message{"type": "bench.message", "seq": seq, "ts": time.Now().UnixNano(), "text": pad}
					if err := sender.GroupSend(ctx, group, msg); err != nil {
						sendErrs[k] = err
						return
					}
				}
			})
		}
		sg.Wait()
		next.Store(end)
		for _, err := range sendErrs {
			if err != nil {
				return p6Phase{}, err
			}
		}
		for range inflight { // every token back: every send complete
			select {
			case w <- struct{}{}:
			case <-time.After(10 * time.Second):
				return p6Phase{}, stuck()
			}
		}
		p := p6Phase{Messages: n, Elapsed: time.Unix(0, last.Load()).Sub(start),
			CPU: bench.CPUTime(os.Getpid()) - cpu0, RedisCPU: bench.CPUTime(rd.pid()) - rcpu0}
		phaseMu.Lock()
		var all []time.Duration
		for i := range lat {
			all = append(all, lat[i]...)
		}
		phaseMu.Unlock()
		d := distOf(all)
		p.Deliveries, p.P50, p.P99, p.Max = d.n, d.p50, d.p99, d.max
		return p, nil
	}
	if _, err := run(1, 1, 1); err != nil { // warm-up, as the Python side
		return r, err
	}
	if r.Throughput, err = run(count, inflight, senders); err != nil {
		return r, err
	}
	if r.Rounds, err = run(rounds, 1, 1); err != nil {
		return r, err
	}
	return r, sender.Flush(ctx)
}

// toInt reads an integer a message brought back from msgpack.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// startProfile profiles the CPU until stop, into path (the last pass wins).
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "p6-*.pprof")
	if err != nil {
		fmt.Fprintln(os.Stderr, "layers: cpuprofile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "layers: cpuprofile:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		// Keep the latest pass' profile under the name asked for.
		_ = os.Rename(f.Name(), path)
	}
}
