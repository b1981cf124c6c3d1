package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 50000, "messages per trial")
	timeout := flag.Duration("timeout", 10*time.Second, "bound on each trial")
	topics := flag.Int("topics", 16, "topics the messages are spread over (one hub scope each)")
	size := flag.Int("size", 64, "payload bytes (at least 8)")
	rounds := flag.Int("rounds", 3, "bare/hub trials per QoS; the median is reported")
	qosList := flag.String("qos", "0,1", "QoS levels to measure")
	bin := flag.String("mosquitto", "/usr/sbin/mosquitto", "mosquitto binary")
	nodelay := flag.Bool("nodelay", true, "broker sets TCP_NODELAY (false: mosquitto's default, Nagle on)")
	relays := flag.String("relays", "bare,hub,hub-split", "relays to measure: bare, hub, hub-split")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	verbose := flag.Bool("v", false, "show the hub's logs")
	flag.Parse()
	if *verbose {
		logTo = os.Stderr
	}
	if *cpuProfile != "" {
		stop, err := profile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/mqtt:", err)
			os.Exit(1)
		}
		defer stop()
	}
	kinds = strings.Split(*relays, ",")
	if err := run(*bin, *nodelay, *qosList, trialOpts{n: *n, topics: *topics, size: *size, timeout: *timeout}, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench/mqtt:", err)
		os.Exit(1) //nolint:gocritic // the profile of a failed run is not wanted
	}
}

// kinds are the relays measured, in the order each round runs them.
var kinds []string

func profile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

type trialOpts struct {
	n, topics, size int
	timeout         time.Duration
}

func run(bin string, nodelay bool, qosList string, o trialOpts, rounds int) error {
	dir, err := os.MkdirTemp("", "bench-mqtt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m, err := startMosquitto(bin, dir, nodelay)
	if err != nil {
		return err
	}
	defer m.stop()
	fmt.Printf("# %s, GOMAXPROCS %d, %s (nodelay %v), %d messages of %d B over %d topics, bound %s, median of %d\n",
		runtime.Version(), runtime.GOMAXPROCS(0), mosquittoVersion(bin), nodelay, o.n, o.size, o.topics, o.timeout, rounds)
	fmt.Printf("%-4s", "qos")
	for _, k := range kinds {
		fmt.Printf(" %24s", k+" msg/s")
		if k != "bare" && slices.Contains(kinds, "bare") {
			fmt.Printf(" %10s", k+"/bare")
		}
	}
	fmt.Println()
	var runID uint32
	for _, q := range strings.Split(qosList, ",") {
		qos, err := strconv.Atoi(strings.TrimSpace(q))
		if err != nil || qos < 0 || qos > 2 {
			return fmt.Errorf("bad QoS %q", q)
		}
		got := map[string][]result{}
		for range rounds {
			for _, kind := range kinds { // interleaved, so drift hits every kind alike
				runID++
				r, err := measure(m.url(), dir, kind, byte(qos), o, runID)
				if err != nil {
					return fmt.Errorf("qos %d %s: %w", qos, kind, err)
				}
				got[kind] = append(got[kind], r)
			}
		}
		printRow(qos, got)
	}
	return nil
}

func printRow(qos int, got map[string][]result) {
	fmt.Printf("%-4d", qos)
	for _, k := range kinds {
		fmt.Printf(" %24s", show(got[k]))
		if bare, ok := got["bare"]; ok && k != "bare" {
			fmt.Printf(" %9.2fx", median(got[k]).rate()/median(bare).rate())
		}
	}
	fmt.Println()
}

// measure starts a relay, runs one trial through it and stops it.
func measure(url, dir, kind string, qos byte, o trialOpts, runID uint32) (result, error) {
	var rl relay
	var err error
	switch kind {
	case "hub", "hub-split":
		rl, err = startHub(url, dir, qos, kind == "hub-split")
	default:
		rl, err = startBare(url, qos)
	}
	if err != nil {
		return result{}, err
	}
	t := trial{brokerURL: url, qos: qos, n: o.n, topics: o.topics, size: o.size, timeout: o.timeout, run: runID}
	r, err := t.measure()
	if serr := rl.stop(); err == nil && serr != nil {
		err = fmt.Errorf("stop: %w", serr)
	}
	return r, err
}

func median(rs []result) result {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b result) int {
		switch {
		case a.rate() < b.rate():
			return -1
		case a.rate() > b.rate():
			return 1
		}
		return 0
	})
	return rs[len(rs)/2]
}

// show prints a rate, marking a trial that hit its bound before every
// message arrived.
func show(rs []result) string {
	if len(rs) == 0 {
		return "-"
	}
	r := median(rs)
	s := strconv.Itoa(int(r.rate()))
	if r.timedOut {
		s += fmt.Sprintf(" (%d in bound)", r.received)
	}
	return s
}

func mosquittoVersion(bin string) string {
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}
