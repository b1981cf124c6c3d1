package main

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// trial is one measured run through one relay.
type trial struct {
	brokerURL string
	qos       byte
	n, topics int
	size      int
	timeout   time.Duration
	run       uint32 // tells this trial's messages from a previous one's stragglers
}

// result is what one trial measured.
type result struct {
	received int
	elapsed  time.Duration
	timedOut bool
}

func (r result) rate() float64 { return float64(r.received) / r.elapsed.Seconds() }

// counter subscribes to out/# and counts the distinct messages of one run.
type counter struct {
	run   uint32
	seen  []bool
	count atomic.Int64
	last  atomic.Int64 // unix nanos of the latest new message
	all   chan struct{}
}

func (c *counter) onMessage(_ paho.Client, m paho.Message) {
	p := m.Payload()
	if len(p) < 8 || binary.BigEndian.Uint32(p) != c.run {
		return // a warm-up probe or a previous trial's message
	}
	i := binary.BigEndian.Uint32(p[4:])
	if int(i) >= len(c.seen) || c.seen[i] { // one handler goroutine: no lock
		return // a QoS 1 duplicate
	}
	c.seen[i] = true
	c.last.Store(time.Now().UnixNano())
	if c.count.Add(1) == int64(len(c.seen)) {
		close(c.all)
	}
}

// measure warms the relay up until a probe goes through, then publishes
// t.n messages and waits for them on out/#.
func (t trial) measure() (result, error) {
	cnt := &counter{run: t.run, seen: make([]bool, t.n), all: make(chan struct{})}
	sub, err := connect(t.brokerURL, fmt.Sprintf("bench-sub-%d", t.run))
	if err != nil {
		return result{}, err
	}
	defer sub.Disconnect(250)
	probe := make(chan struct{}, 1)
	if err := wait(sub.Subscribe("out/#", t.qos, func(c paho.Client, m paho.Message) {
		if string(m.Payload()) == "probe" {
			select {
			case probe <- struct{}{}:
			default:
			}
			return
		}
		cnt.onMessage(c, m)
	})); err != nil {
		return result{}, fmt.Errorf("subscribe out/#: %w", err)
	}
	pub, err := connect(t.brokerURL, fmt.Sprintf("bench-pub-%d", t.run))
	if err != nil {
		return result{}, err
	}
	defer pub.Disconnect(250)
	if err := warmUp(pub, probe); err != nil {
		return result{}, err
	}
	return t.publish(pub, cnt)
}

// warmUp publishes a probe until the relay is subscribed and passes it on.
func warmUp(pub paho.Client, probe <-chan struct{}) error {
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		pub.Publish("in/probe", 0, false, "probe")
		select {
		case <-probe:
			return nil
		case <-tick.C:
		case <-deadline:
			return fmt.Errorf("relay passed no probe within 15s")
		}
	}
}

// publish sends the trial's messages as fast as the client takes them and
// waits for the counter; QoS 1 publishes are acknowledged asynchronously.
func (t trial) publish(pub paho.Client, cnt *counter) (result, error) {
	topics := make([]string, t.topics)
	for k := range topics {
		topics[k] = "in/" + strconv.Itoa(k)
	}
	start := time.Now()
	timeout := time.After(t.timeout)
	var last paho.Token
	for i := 0; i < t.n; i++ {
		p := make([]byte, max(t.size, 8))
		binary.BigEndian.PutUint32(p, t.run)
		binary.BigEndian.PutUint32(p[4:], uint32(i))
		last = pub.Publish(topics[i%t.topics], t.qos, false, p)
	}
	r := result{}
	select {
	case <-cnt.all:
	case <-timeout:
		r.timedOut = true
	}
	if last.WaitTimeout(0) && last.Error() != nil {
		return result{}, fmt.Errorf("publish: %w", last.Error())
	}
	r.received = int(cnt.count.Load())
	r.elapsed = time.Duration(cnt.last.Load() - start.UnixNano())
	if r.received == 0 {
		r.elapsed = time.Since(start)
	}
	return r, nil
}
