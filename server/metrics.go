package server

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hubhq/hub/consumers"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/store"
)

// newMetricsHandler exposes the hub's counters in Prometheus format. The
// values are read at scrape time from the counters the runtime, store, layer
// and adapter already keep, so serving metrics adds nothing to any hot path.
func (s *Server) newMetricsHandler() http.Handler {
	r := newRegistry()
	for _, p := range s.runtimes.each() {
		r.runtime(p.protocol, p.rt.Metrics)
	}
	r.consumers()
	r.gauge("websocket_connections", "Open WebSocket connections.", nil, func() float64 { return float64(s.ws.Conns()) })
	r.store(s.db)
	r.layer(s.cfg.Layer.Backend(), s.layer)
	return r.handler(s.log)
}

// registry collects the hub's metrics under the "hub" namespace, beside
// the Go and process ones.
type registry struct{ reg *prometheus.Registry }

func newRegistry() *registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &registry{reg}
}

func (r *registry) counter(name, help string, labels prometheus.Labels, f func() float64) {
	r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "hub", Name: name, Help: help, ConstLabels: labels}, f))
}

func (r *registry) gauge(name, help string, labels prometheus.Labels, f func() float64) {
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "hub", Name: name, Help: help, ConstLabels: labels}, f))
}

func (r *registry) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)})
}

func (r *registry) store(db *store.DB) {
	r.counter("store_writes_total", "Store writes committed.", nil, func() float64 { return float64(db.Stats().Writes) })
	r.counter("store_batches_total", "Store transactions committed.", nil, func() float64 { return float64(db.Stats().Batches) })
	r.counter("store_dropped_total", "Fire-and-forget store writes dropped.", nil, func() float64 { return float64(db.Stats().Dropped) })
	r.counter("store_failed_total", "Store writes that failed.", nil, func() float64 { return float64(db.Stats().Failed) })
	replay := db.Replayed()
	for outcome, n := range map[string]int{"answered": replay.Answered, "in_doubt": replay.InDoubt, "made_again": replay.Again} {
		r.counter("outbox_replayed_total", "Bot calls the last run left in flight, settled at start by the attempt journal: sent with their answer, sent in doubt (answer lost), or made again (their request never left whole).",
			prometheus.Labels{"outcome": outcome}, func() float64 { return float64(n) })
	}
	r.counter("outbox_replayed_unwitnessed_total", "Of the calls made again at start, those with no witness count: they may be repeats.",
		nil, func() float64 { return float64(replay.Unwitnessed) })
}

func (r *registry) layer(backend string, l layer.Layer) {
	r.gauge("layer_info", "The channel layer in use, by backend (always 1).", prometheus.Labels{"backend": backend}, func() float64 { return 1 })
	if s, ok := l.(layer.StatsReporter); ok {
		r.counter("layer_sent_total", "Channel layer messages accepted.", nil, func() float64 { return float64(s.Stats().Sent) })
		r.counter("layer_full_total", "Channel layer sends refused: channel full.", nil, func() float64 { return float64(s.Stats().Full) })
		r.counter("layer_group_dropped_total", "Group deliveries skipped: member full.", nil, func() float64 { return float64(s.Stats().GroupDrop) })
		r.counter("layer_expired_total", "Channel layer messages that expired unread.", nil, func() float64 { return float64(s.Stats().Expired) })
	}
}

// runtime adds one protocol's scope and inbox counters.
func (r *registry) runtime(protocol string, m *core.Metrics) {
	proto := prometheus.Labels{"protocol": protocol}
	r.counter("scopes_opened_total", "Scopes started.", proto, func() float64 { return float64(m.Opened.Load()) })
	r.counter("scopes_closed_total", "Scopes ended, for any reason.", proto, func() float64 { return float64(m.Closed.Load()) })
	r.counter("scopes_failed_total", "Scopes whose consumer returned an error.", proto, func() float64 { return float64(m.Failed.Load()) })
	r.counter("scope_panics_total", "Scopes whose consumer panicked.", proto, func() float64 { return float64(m.Panics.Load()) })
	r.counter("inbox_dropped_total", "Events dropped by the drop_oldest inbox policy.", proto, func() float64 { return float64(m.Dropped.Load()) })
	r.counter("inbox_full_total", "Scopes closed by the close inbox policy.", proto, func() float64 { return float64(m.Full.Load()) })
	r.gauge("scopes_live", "Running consumer instances.", proto, func() float64 { return float64(m.Live()) })
}

// consumers adds what the generic consumers refused, process-wide.
func (r *registry) consumers() {
	r.counter("consumer_unhandled_total", "Layer messages with no handler for their type.", nil, func() float64 { return float64(consumers.ReadStats().Unhandled) })
	r.counter("consumer_unsupported_total", "Binary frames sent to a JSON consumer (closed 1003).", nil, func() float64 { return float64(consumers.ReadStats().Unsupported) })
	r.counter("consumer_invalid_json_total", "Text frames a JSON consumer could not decode (closed 1007).", nil, func() float64 { return float64(consumers.ReadStats().InvalidJSON) })
}
