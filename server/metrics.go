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
)

// metricsHandler exposes the hub's counters in Prometheus format. The values
// are read at scrape time from the counters the runtime, store, layer and
// adapter already keep, so serving metrics adds nothing to any hot path.
func (s *Server) newMetricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var counter metricFunc = func(name, help string, labels prometheus.Labels, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "hub", Name: name, Help: help, ConstLabels: labels}, f))
	}
	var gauge metricFunc = func(name, help string, labels prometheus.Labels, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "hub", Name: name, Help: help, ConstLabels: labels}, f))
	}

	for _, p := range s.runtimes {
		runtimeMetrics(p.protocol, p.rt.Metrics, counter, gauge)
	}
	consumerMetrics(counter)
	gauge("websocket_connections", "Open WebSocket connections.", nil, func() float64 { return float64(s.ws.Conns()) })

	counter("store_writes_total", "Store writes committed.", nil, func() float64 { return float64(s.db.Stats().Writes) })
	counter("store_batches_total", "Store transactions committed.", nil, func() float64 { return float64(s.db.Stats().Batches) })
	counter("store_dropped_total", "Fire-and-forget store writes dropped.", nil, func() float64 { return float64(s.db.Stats().Dropped) })
	counter("store_failed_total", "Store writes that failed.", nil, func() float64 { return float64(s.db.Stats().Failed) })

	gauge("layer_info", "The channel layer in use, by backend (always 1).", prometheus.Labels{"backend": s.cfg.Layer.Backend()}, func() float64 { return 1 })
	if r, ok := s.layer.(layer.StatsReporter); ok {
		counter("layer_sent_total", "Channel layer messages accepted.", nil, func() float64 { return float64(r.Stats().Sent) })
		counter("layer_full_total", "Channel layer sends refused: channel full.", nil, func() float64 { return float64(r.Stats().Full) })
		counter("layer_group_dropped_total", "Group deliveries skipped: member full.", nil, func() float64 { return float64(r.Stats().GroupDrop) })
		counter("layer_expired_total", "Channel layer messages that expired unread.", nil, func() float64 { return float64(r.Stats().Expired) })
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)})
}

type metricFunc func(name, help string, labels prometheus.Labels, f func() float64)

// runtimeMetrics are one protocol's scope and inbox counters.
func runtimeMetrics(protocol string, m *core.Metrics, counter, gauge metricFunc) {
	proto := prometheus.Labels{"protocol": protocol}
	counter("scopes_opened_total", "Scopes started.", proto, func() float64 { return float64(m.Opened.Load()) })
	counter("scopes_closed_total", "Scopes ended, for any reason.", proto, func() float64 { return float64(m.Closed.Load()) })
	counter("scopes_failed_total", "Scopes whose consumer returned an error.", proto, func() float64 { return float64(m.Failed.Load()) })
	counter("scope_panics_total", "Scopes whose consumer panicked.", proto, func() float64 { return float64(m.Panics.Load()) })
	counter("inbox_dropped_total", "Events dropped by the drop_oldest inbox policy.", proto, func() float64 { return float64(m.Dropped.Load()) })
	counter("inbox_full_total", "Scopes closed by the close inbox policy.", proto, func() float64 { return float64(m.Full.Load()) })
	gauge("scopes_live", "Running consumer instances.", proto, func() float64 { return float64(m.Live()) })
}

// consumerMetrics are what the generic consumers refused, process-wide.
func consumerMetrics(counter metricFunc) {
	counter("consumer_unhandled_total", "Layer messages with no handler for their type.", nil, func() float64 { return float64(consumers.ReadStats().Unhandled) })
	counter("consumer_unsupported_total", "Binary frames sent to a JSON consumer (closed 1003).", nil, func() float64 { return float64(consumers.ReadStats().Unsupported) })
	counter("consumer_invalid_json_total", "Text frames a JSON consumer could not decode (closed 1007).", nil, func() float64 { return float64(consumers.ReadStats().InvalidJSON) })
}
