package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/nats"
	"github.com/hubhq/hub/core/layer/redis"
	"github.com/hubhq/hub/internal/poll"
)

// workerConfig routes the channel "thumbnails" to the e2e-reply consumer
// of the hubplus binary, on the layer at url.
func workerConfig(t *testing.T, url string) string {
	return writeConfig(t, t.TempDir(), `
store: ./hub.db
layer: `+url+`
inbox: {size: 1}   # a worker takes few messages ahead, so two share the queue
routes:
  channel:
    - channel: thumbnails
      consumer: e2e-reply
      options: {work: 20ms}
`)
}

// startWorker runs `hubplus worker args…` and waits until it serves; with
// --listen, until it logs the address (its Addr), just before.
func startWorker(t *testing.T, path string, args ...string) *hub {
	t.Helper()
	ready := workerReadyRE
	if slices.Contains(args, "--listen") {
		ready = listeningRE
	}
	return startProcess(t, plusBin, path, ready, append([]string{"worker"}, args...)...)
}

// redisLayer and natsLayer are layers of the test process itself, the way
// another hub (or a Django project) would send to the workers.
func redisLayer(t *testing.T, url string) layer.Layer {
	t.Helper()
	l, err := redis.New(t.Context(), redis.Options{Hosts: []string{url}, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func natsLayer(t *testing.T, url string) layer.Layer {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout) // nats.New wants a deadline
	defer cancel()
	l, err := nats.New(ctx, nats.Options{URL: url, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// awaitReceiver sends one message until some process receives the channel:
// NATS keeps nothing for a channel before its first Receive.
func awaitReceiver(t *testing.T, l layer.Layer, reply string) {
	t.Helper()
	msg := layer.Message{"type": "thumbnail.make", "id": "probe", "reply_to": reply}
	var err error
	poll.Wait(startTimeout, func() bool {
		err = l.Send(t.Context(), "thumbnails", msg)
		return !errors.Is(err, nats.ErrNoReceiver)
	})
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), readTimeout)
	defer cancel()
	if _, err := l.Receive(ctx, reply); err != nil {
		t.Fatalf("probe reply: %v", err)
	}
}

// sendJobs sends n messages to "thumbnails", each asking for a reply on a
// channel of the test's own, which it returns.
func sendJobs(t *testing.T, l layer.Layer, n int) string {
	t.Helper()
	reply, err := l.NewChannel(t.Context(), "specific")
	if err != nil {
		t.Fatal(err)
	}
	return sendJobsTo(t, l, reply, n)
}

// sendJobsTo sends n messages to "thumbnails" asking for replies on reply.
func sendJobsTo(t *testing.T, l layer.Layer, reply string, n int) string {
	t.Helper()
	for i := range n {
		msg := layer.Message{"type": "thumbnail.make", "id": fmt.Sprint(i), "reply_to": reply}
		if err := l.Send(t.Context(), "thumbnails", msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	return reply
}

// collect receives n replies and counts them per worker, failing on a
// message handled twice.
func collect(t *testing.T, l layer.Layer, reply string, n int) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	perWorker := map[string]int{}
	for len(seen) < n {
		msg, err := l.Receive(ctx, reply)
		if err != nil {
			t.Fatalf("after %d of %d replies: %v", len(seen), n, err)
		}
		id := fmt.Sprint(msg["id"])
		if seen[id] {
			t.Fatalf("message %s handled twice", id)
		}
		if msg["channel"] != "thumbnails" {
			t.Errorf("reply %v: served as channel %v", msg, msg["channel"])
		}
		seen[id] = true
		perWorker[fmt.Sprint(msg["worker"])]++
	}
	return perWorker
}

// TestWorker sends to a fixed channel from outside, as another process
// would: one worker handles every message; two share them, each message
// handled once. On Redis the messages are sent before the worker runs
// (Redis keeps them); NATS keeps nothing, so they are sent once it serves.
func TestWorker(t *testing.T) {
	for _, backend := range []struct {
		name     string
		start    func(*testing.T) string
		newLayer func(*testing.T, string) layer.Layer
	}{{"redis", startRedis, redisLayer}, {"nats", startNATS, natsLayer}} {
		t.Run(backend.name, func(t *testing.T) {
			url := backend.start(t)
			l := backend.newLayer(t, url)
			cfg := workerConfig(t, url)

			var w1 *hub
			var reply string
			if backend.name == "redis" {
				reply = sendJobs(t, l, 5)
				w1 = startWorker(t, cfg) // no names: every routed channel
			} else {
				w1 = startWorker(t, cfg)
				ch, err := l.NewChannel(t.Context(), "specific")
				if err != nil {
					t.Fatal(err)
				}
				awaitReceiver(t, l, ch)
				reply = sendJobsTo(t, l, ch, 5)
			}
			if got := collect(t, l, reply, 5); len(got) != 1 {
				t.Fatalf("one worker: replies per worker %v", got)
			}

			w2 := startWorker(t, cfg, "thumbnails", "--listen", "127.0.0.1:0")
			const n = 40
			got := collect(t, l, sendJobs(t, l, n), n)
			if len(got) != 2 {
				t.Errorf("two workers: replies per worker %v, want both to take a share", got)
			}
			if m := metrics(t, w2.Addr); !strings.Contains(m, `hub_scopes_opened_total{protocol="channel"} 1`) ||
				!strings.Contains(m, `hub_layer_info{backend="`+backend.name+`"} 1`) {
				t.Errorf("worker /metrics:\n%s", m)
			}
			for _, w := range []*hub{w1, w2} {
				if code := w.Stop(); code != 0 {
					t.Errorf("worker exit code %d after SIGTERM\n%s", code, w.Logs())
				}
			}
		})
	}
}

// metrics returns the /metrics page of the process at addr.
func metrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestWorkerRefuses checks the mistakes a worker command line can make.
func TestWorkerRefuses(t *testing.T) {
	for _, tt := range []struct {
		name, layer string
		args        []string
		want        string
	}{
		{"memory layer", "memory", nil, "a worker needs a layer other processes reach"},
		{"unrouted channel", "redis://127.0.0.1:1/0", []string{"resize"}, `no routes.channel entry for channel "resize" (routed: thumbnails)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := workerConfig(t, tt.layer)
			_, stderr, code := runBin(t, plusBin, t.TempDir(), append([]string{"worker", "--config", path}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant 2 and %q", code, stderr, tt.want)
			}
		})
	}
}
