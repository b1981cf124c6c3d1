package server_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/internal/servertest"
	"github.com/hubhq/hub/internal/syncbuf"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/server"
)

// lifecycle is a consumer with a service and resources: it records what
// the hub does with it. Each route makes one, found by its id option in
// lifecycles.
type lifecycle struct {
	panics  bool
	started chan plugins.Env // Run began with this Env
	ended   chan struct{}    // Run returned
	closed  chan bool        // Close was called; true if Run had returned by then
}

var lifecycles sync.Map // id → *lifecycle

func init() {
	plugins.RegisterFactory("lifecycle", func(opts plugins.Options) (core.Application, error) {
		var o struct {
			ID     string `json:"id"`
			Panics bool   `json:"panics"`
		}
		if err := opts.Decode(&o); err != nil {
			return nil, err
		}
		l := &lifecycle{panics: o.Panics, started: make(chan plugins.Env, 1), ended: make(chan struct{}), closed: make(chan bool, 1)}
		lifecycles.Store(o.ID, l)
		return l, nil
	})
}

func (l *lifecycle) Serve(ctx context.Context, _ *core.Scope, inbox core.Inbox, _ core.SendFunc) error {
	<-ctx.Done()
	return nil
}

func (l *lifecycle) Run(ctx context.Context, env plugins.Env) error {
	defer close(l.ended)
	l.started <- env
	if l.panics {
		panic("lifecycle test panic")
	}
	<-ctx.Done()
	return ctx.Err()
}

func (l *lifecycle) Close() error {
	select {
	case <-l.ended:
		l.closed <- true
	default:
		l.closed <- false
	}
	return nil
}

func lifecycleOf(t *testing.T, id string) *lifecycle {
	t.Helper()
	v, ok := lifecycles.Load(id)
	if !ok {
		t.Fatalf("no lifecycle plugin %q was built", id)
	}
	return v.(*lifecycle)
}

// startedWithEnv waits for the service to start and checks what it got.
func (l *lifecycle) startedWithEnv(t *testing.T) {
	t.Helper()
	env := wait(t, l.started, "the service to start")
	if env.Store == nil || env.Layer == nil || env.Log == nil {
		t.Errorf("service Env = %+v, want the store, the layer and a logger", env)
	}
}

// stoppedThenClosed checks, once Run (of the hub or the worker) has
// returned, that the service had returned and that Close came after it.
func (l *lifecycle) stoppedThenClosed(t *testing.T) {
	t.Helper()
	select {
	case <-l.ended:
	default:
		t.Fatal("Run returned before the service did")
	}
	if afterRun := wait(t, l.closed, "Close"); !afterRun {
		t.Error("the plugin was closed before its service returned")
	}
}

// wait returns the value ch yields, failing the test after a while.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// TestPluginLifecycle checks that a plugin's service runs with the store,
// the layer and a logger that names it, is cancelled at shutdown and
// waited for, and that the plugin is closed after that.
func TestPluginLifecycle(t *testing.T) {
	id := t.Name()
	_, stop := start(t, newConfig(t, "routes:\n  websocket:\n    - {path: /ws/life/, consumer: lifecycle, options: {id: "+id+"}}\n"))
	l := lifecycleOf(t, id)
	l.startedWithEnv(t)
	select {
	case <-l.closed:
		t.Fatal("plugin closed while the hub runs")
	default:
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	l.stoppedThenClosed(t)
}

// TestWorkerPluginLifecycle is TestPluginLifecycle for `hub worker`: a
// routes.channel consumer's service runs with the worker's store and layer,
// and is stopped, then closed, when the worker stops.
func TestWorkerPluginLifecycle(t *testing.T) {
	id := t.Name()
	redis := servertest.Start(t, servertest.Redis())
	cfg := newConfig(t, "layer: redis://"+redis.Addr()+"/0\nroutes:\n  channel:\n    - {channel: life, consumer: lifecycle, options: {id: "+id+"}}\n")
	w, err := server.NewWorker(cfg, testLogger(t), server.WorkerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	l := lifecycleOf(t, id)
	l.startedWithEnv(t)
	cancel()
	if err := wait(t, done, "the worker to stop"); err != nil {
		t.Fatal(err)
	}
	l.stoppedThenClosed(t)
}

// TestPluginServicePanics checks that a panic in a service is logged and
// leaves the hub running.
func TestPluginServicePanics(t *testing.T) {
	id := t.Name()
	var logs syncbuf.Buffer
	cfg := newConfig(t, "routes:\n  websocket:\n    - {path: /ws/life/, consumer: lifecycle, options: {id: "+id+", panics: true}}\n")
	srv, stop := startLogged(t, cfg, slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), nil)))
	l := lifecycleOf(t, id)
	wait(t, l.ended, "the service to panic")
	if code, _ := get(t, "http://"+srv.Addr()+"/healthz"); code != 200 {
		t.Errorf("/healthz after a service panic = %d", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); !strings.Contains(got, "plugin service failed") || !strings.Contains(got, "plugin=lifecycle") ||
		!strings.Contains(got, "lifecycle test panic") {
		t.Errorf("log lacks the service's panic:\n%s", got)
	}
	wait(t, l.closed, "Close")
}
