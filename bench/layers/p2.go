package main

import (
	"github.com/hubhq/hub/bench"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gorilla "github.com/gorilla/websocket"
)

// p2Main is benchmark P2: one sender, 1,000 WebSocket members in one
// chatroom, the same run for each layer.
func p2Main(args []string) error {
	fs := flag.NewFlagSet("p2", flag.ExitOnError)
	members := fs.Int("members", 1000, "WebSocket members in the room (the sender is one more)")
	layersFlag := fs.String("layers", "memory,redis,nats", "setups, in order: memory, redis, nats, redis-split, nats-split (-split: the sender on a second hub process)")
	passes := fs.Int("passes", 3, "passes over the setups; every second one in reverse order")
	window := fs.Int("window", 8, "throughput phase: messages in flight (sent, not yet received by every member)")
	warmup := fs.Duration("warmup", time.Second, "warm-up at the throughput window, not counted")
	dur := fs.Duration("duration", 3*time.Second, "sending time of the throughput phase")
	roundsDur := fs.Duration("rounds", 2*time.Second, "sending time of the rounds phase (one message in flight)")
	size := fs.Int("size", 64, "chat message text, bytes")
	cpuProfile := fs.String("cpuprofile", "", "directory for a CPU profile of each hub process (its whole life: connects included), <setup>-<pass>[-sender].pprof")
	dbDir := fs.String("dbdir", "/dev/shm", "where the hubs keep their SQLite store (tmpfs: no fsync cost in the numbers)")
	limit := fs.Duration("timeout", 110*time.Second, "bound on the whole run")
	_ = fs.Parse(args)
	bench.RaiseNoFile()
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()
	if st, err := os.Stat(*dbDir); err != nil || !st.IsDir() {
		*dbDir = ""
	}

	setups := strings.Split(*layersFlag, ",")
	var rd, nt *broker
	for _, s := range setups {
		var err error
		switch {
		case strings.HasPrefix(s, "redis") && rd == nil:
			if rd, err = startRedis(); err != nil {
				return err
			}
			defer rd.stop()
		case strings.HasPrefix(s, "nats") && nt == nil:
			if nt, err = startNATS(); err != nil {
				return err
			}
			defer nt.stop()
		}
	}

	fmt.Printf("layers p2: %s, %s, GOMAXPROCS=%d, NumCPU=%d (client, hubs and brokers share them); load average %s\n",
		time.Now().UTC().Format(time.RFC3339), runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), loadAvg())
	fmt.Printf("%d members + 1 sender in one chatroom; %d-B messages; throughput: %d in flight, warm-up %v, %v sending; rounds: 1 in flight, %v sending; %d passes, every second one in reverse order\n\n",
		*members, *size, *window, *warmup, *dur, *roundsDur, *passes)
	fmt.Println("| pass | setup | deliveries/s | p50 | p99 | max | rounds: p50 | rounds: p99 | hub CPU/delivery | broker CPU/delivery | dropped |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	results := make([]map[string]p2Result, *passes)
	n := 0
	for pass := range *passes {
		results[pass] = map[string]p2Result{}
		order := slices.Clone(setups)
		if pass%2 == 1 { // a drift in the machine's load favours no setup
			slices.Reverse(order)
		}
		for _, s := range order {
			var url string
			split := strings.HasSuffix(s, "-split")
			var b *broker
			switch strings.TrimSuffix(s, "-split") {
			case "memory":
				url = "memory"
				if split {
					return errors.New("memory-split: the memory layer does not span processes")
				}
			case "redis":
				b, url = rd, "redis://"+rd.addr()+"/0"
			case "nats":
				b, url = nt, "nats://"+nt.addr()
			default:
				return fmt.Errorf("unknown setup %q", s)
			}
			n++
			r, err := runP2(ctx, p2Setup{
				name: s, url: url, split: split, broker: b, room: fmt.Sprintf("p2_%d_%d", os.Getpid(), n),
				members: *members, window: *window, warmup: *warmup, dur: *dur, roundsDur: *roundsDur,
				size: *size, dbDir: *dbDir, profile: profilePath(*cpuProfile, fmt.Sprintf("%s-%d", s, pass+1)),
			})
			if err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
			results[pass][s] = r
			brokerCPU := "–"
			if b != nil {
				brokerCPU = fmt.Sprintf("%.2f µs", r.brokerCPUPerDelivery())
			}
			fmt.Printf("| %d | %s | %.0f | %s | %s | %s | %s | %s | %.2f µs | %s | %d |\n", pass+1, s, r.rate(),
				ms(r.tput.p50), ms(r.tput.p99), ms(r.tput.max), ms(r.rounds.p50), ms(r.rounds.p99),
				r.hubCPUPerDelivery(), brokerCPU, r.dropped)
		}
	}
	fmt.Printf("\nload average after: %s\n", loadAvg())
	if !slices.Contains(setups, "memory") {
		return nil
	}
	fmt.Println("\nagainst memory in the same pass, pass by pass and their median (in bold) (deliveries/s: higher is better; latency and CPU: lower is better):")
	fmt.Println()
	fmt.Println("| setup | deliveries/s | p99 | rounds: p50 | rounds: p99 | hub CPU/delivery |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, s := range setups {
		if s == "memory" {
			continue
		}
		col := func(f func(r, m p2Result) float64) string {
			var b strings.Builder
			var vs []float64
			for _, res := range results {
				v := f(res[s], res["memory"])
				vs = append(vs, v)
				fmt.Fprintf(&b, "%.2f ", v)
			}
			slices.Sort(vs)
			fmt.Fprintf(&b, "**%.2f×**", median(vs))
			return b.String()
		}
		fmt.Printf("| %s/memory | %s | %s | %s | %s | %s |\n", s,
			col(func(r, m p2Result) float64 { return r.rate() / m.rate() }),
			col(func(r, m p2Result) float64 { return float64(r.tput.p99) / float64(m.tput.p99) }),
			col(func(r, m p2Result) float64 { return float64(r.rounds.p50) / float64(m.rounds.p50) }),
			col(func(r, m p2Result) float64 { return float64(r.rounds.p99) / float64(m.rounds.p99) }),
			col(func(r, m p2Result) float64 { return r.hubCPUPerDelivery() / m.hubCPUPerDelivery() }))
	}
	return nil
}

type p2Setup struct {
	name, url string
	split     bool // the sender on a second hub process
	broker    *broker
	room      string
	members   int
	window    int
	warmup    time.Duration
	dur       time.Duration
	roundsDur time.Duration
	size      int
	dbDir     string
	profile   string // CPU profile of the members' hub; the sender's hub adds -sender
}

type p2Result struct {
	deliveries int64         // throughput phase
	elapsed    time.Duration // first send to last delivery of the throughput phase
	tput       dist          // delivery latencies, throughput phase
	rounds     dist          // delivery latencies, rounds phase
	hubCPU     time.Duration // all hub processes, throughput phase
	brokerCPU  time.Duration
	dropped    int64 // hub_layer_group_dropped_total of the members' hub
}

func (r p2Result) rate() float64 { return float64(r.deliveries) / r.elapsed.Seconds() }
func (r p2Result) hubCPUPerDelivery() float64 {
	return float64(r.hubCPU.Nanoseconds()) / 1e3 / float64(r.deliveries)
}
func (r p2Result) brokerCPUPerDelivery() float64 {
	return float64(r.brokerCPU.Nanoseconds()) / 1e3 / float64(r.deliveries)
}

// Phases of P2; a message's text carries its phase.
const (
	phaseWarmup = iota
	phaseTput
	phaseRounds
	nPhases
)

// maxSeq bounds the messages of one setup.
const maxSeq = 1 << 20

// fanout is the client side of one setup: the members' receive counts.
type fanout struct {
	n        int32
	counts   []atomic.Int32 // by sequence number: members that got it
	complete chan int       // sequence numbers every member got
	lat      [][nPhases][]time.Duration
	last     atomic.Int64 // unix ns of the latest delivery
}

func runP2(ctx context.Context, s p2Setup) (p2Result, error) {
	var res p2Result
	flags := []string{"-layer", s.url}
	if s.dbDir != "" {
		flags = append(flags, "-dbdir", s.dbDir)
	}
	prof := func(suffix string) []string {
		if s.profile == "" {
			return flags
		}
		return append(slices.Clone(flags), "-cpuprofile", s.profile+suffix+".pprof")
	}
	hub, err := startHub(prof("")...)
	if err != nil {
		return res, err
	}
	defer hub.Stop()
	hubs := []*hubChild{hub}
	senderHub := hub
	if s.split {
		if senderHub, err = startHub(prof("-sender")...); err != nil {
			return res, err
		}
		defer senderHub.Stop()
		hubs = append(hubs, senderHub)
	}

	f := &fanout{n: int32(s.members), counts: make([]atomic.Int32, maxSeq), complete: make(chan int, maxSeq),
		lat: make([][nPhases][]time.Duration, s.members)}
	d := gorilla.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	path := "/ws/chat/" + s.room + "/"
	conns := make([]*gorilla.Conn, s.members)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	// Dial 50 at a time.
	var dialErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, _, err := d.DialContext(ctx, "ws://"+hub.addr+path, nil)
			if err != nil {
				mu.Lock()
				dialErr = err
				mu.Unlock()
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	if dialErr != nil {
		return res, fmt.Errorf("dial: %w", dialErr)
	}
	var readers sync.WaitGroup
	readErrs := make([]error, s.members)
	for i, c := range conns {
		readers.Go(func() { readErrs[i] = f.read(i, c) })
	}
	sender, _, err := d.DialContext(ctx, "ws://"+senderHub.addr+path, nil)
	if err != nil {
		return res, fmt.Errorf("dial sender: %w", err)
	}
	defer sender.Close()
	go func() { // the sender is a member too: drain its copies
		for {
			if _, _, err := sender.ReadMessage(); err != nil {
				return
			}
		}
	}()

	seq := 0
	pad := strings.Repeat("x", max(0, s.size-40))
	send := func(phase int) error {
		text := fmt.Sprintf("p2 %d %d %d %s", phase, seq, time.Now().UnixNano(), pad)
		seq++
		b, _ := json.Marshal(map[string]string{"message": text, "user": "bench"})
		return sender.WriteMessage(gorilla.TextMessage, b)
	}
	completed := 0
	// await waits until at most inflight messages are incomplete.
	await := func(inflight int) error {
		for seq-completed > inflight {
			select {
			case <-f.complete:
				completed++
			case <-time.After(10 * time.Second):
				return fmt.Errorf("message %d not received by every member after 10 s (lost deliveries?)", completed)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	run := func(phase, window int, d time.Duration) (time.Duration, error) {
		start := time.Now()
		for time.Since(start) < d {
			if err := await(window - 1); err != nil {
				return 0, err
			}
			if err := send(phase); err != nil {
				return 0, fmt.Errorf("send: %w", err)
			}
		}
		if err := await(0); err != nil {
			return 0, err
		}
		return time.Unix(0, f.last.Load()).Sub(start), nil
	}
	if _, err := run(phaseWarmup, s.window, s.warmup); err != nil {
		return res, err
	}
	cpu0, bcpu0 := hubsCPU(hubs), brokerCPU(s.broker)
	seq0 := seq
	if res.elapsed, err = run(phaseTput, s.window, s.dur); err != nil {
		return res, err
	}
	res.hubCPU, res.brokerCPU = hubsCPU(hubs)-cpu0, brokerCPU(s.broker)-bcpu0
	res.deliveries = int64(seq-seq0) * int64(s.members)
	if _, err := run(phaseRounds, 1, s.roundsDur); err != nil {
		return res, err
	}
	res.dropped = hub.metric(ctx, "hub_layer_group_dropped_total")

	for _, c := range conns {
		c.Close()
	}
	readers.Wait()
	for _, err := range readErrs {
		if err != nil && !errors.Is(err, errClosedByUs) {
			return res, fmt.Errorf("member: %w", err)
		}
	}
	var tput, rounds []time.Duration
	for i := range f.lat {
		tput = append(tput, f.lat[i][phaseTput]...)
		rounds = append(rounds, f.lat[i][phaseRounds]...)
	}
	res.tput, res.rounds = distOf(tput), distOf(rounds)
	if int64(res.tput.n) != res.deliveries {
		return res, fmt.Errorf("throughput phase: %d latencies for %d deliveries", res.tput.n, res.deliveries)
	}
	return res, nil
}

var errClosedByUs = errors.New("closed by the benchmark")

var msgPrefix = []byte(`"message":"p2 `)

// read is one member's loop: it records each chat line's latency by phase
// and counts it for its sequence number.
func (f *fanout) read(i int, c *gorilla.Conn) error {
	for {
		_, b, err := c.ReadMessage()
		now := time.Now()
		if err != nil {
			if strings.Contains(err.Error(), "use of closed network connection") {
				return errClosedByUs
			}
			return err
		}
		j := bytes.Index(b, msgPrefix)
		if j < 0 {
			continue // not ours (an error frame would show in the counts)
		}
		fields := strings.Fields(string(b[j+len(msgPrefix) : min(len(b), j+len(msgPrefix)+60)]))
		if len(fields) < 3 {
			return fmt.Errorf("bad chat line %q", b)
		}
		phase, _ := strconv.Atoi(fields[0])
		seq, _ := strconv.Atoi(fields[1])
		sent, _ := strconv.ParseInt(fields[2], 10, 64)
		if phase < 0 || phase >= nPhases || seq < 0 || seq >= maxSeq {
			return fmt.Errorf("bad chat line %q", b)
		}
		f.lat[i][phase] = append(f.lat[i][phase], now.Sub(time.Unix(0, sent)))
		if f.counts[seq].Add(1) == f.n {
			f.last.Store(now.UnixNano())
			f.complete <- seq
		}
	}
}

// hubChild is a hub started by P2.
type hubChild struct {
	*bench.Child
	addr string
}

func startHub(flags ...string) (*hubChild, error) {
	c, err := bench.StartChild(1, append([]string{"serve"}, flags...)...)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	return &hubChild{Child: c, addr: c.Ready[0]}, nil
}

// metric reads one unlabelled value from the hub's /metrics (-1 if absent).
func (h *hubChild) metric(ctx context.Context, name string) int64 {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range bytes.Lines(b) {
		if f := strings.Fields(string(line)); len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return int64(v)
		}
	}
	return -1
}

func hubsCPU(hs []*hubChild) time.Duration {
	var t time.Duration
	for _, h := range hs {
		t += bench.CPUTime(h.Pid())
	}
	return t
}

func brokerCPU(b *broker) time.Duration {
	if b == nil {
		return 0
	}
	return bench.CPUTime(b.pid())
}

func profilePath(dir, name string) string {
	if dir == "" {
		return ""
	}
	_ = os.MkdirAll(dir, 0o755)
	return filepath.Join(dir, name)
}

// median of sorted values (the mean of the middle two for an even count).
func median(vs []float64) float64 {
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}
