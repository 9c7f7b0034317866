package main

import (
	"context"
	"net/http"

	"github.com/pairflow/pairflow/pipeline"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/stats"
)

// Metrics are a server's Prometheus metrics, on a registry of their own (so
// that servers can run side by side, in tests).
type Metrics struct {
	reg         *prometheus.Registry
	active      prometheus.Gauge
	connections prometheus.Gauge
	streams     *prometheus.CounterVec // transport, result
	refused     *prometheus.CounterVec // reason
	batches     *prometheus.CounterVec // dataset, transport
	bytes       *prometheus.CounterVec // dataset, transport
	busy        *prometheus.CounterVec // stage
	blockedIn   *prometheus.CounterVec // stage
	blockedOut  *prometheus.CounterVec // stage
}

// NewMetrics registers the metrics on reg (nil: a new registry).
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		reg: reg,
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pairflow_serve_streams_active",
			Help: "Streams being served now (Flight DoGet and HTTP)."}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pairflow_serve_clients_connected",
			Help: "Open client connections (gRPC connections and HTTP streams)."}),
		streams: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pairflow_serve_streams_total",
			Help: "Streams ended, by transport and result (ok, cancelled, error)."}, []string{"transport", "result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pairflow_serve_refused_total",
			Help: "Requests refused, by reason (auth, descriptor, ticket, busy)."}, []string{"reason"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pairflow_serve_batches_total",
			Help: "Record batches served."}, []string{"dataset", "transport"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pairflow_serve_bytes_total",
			Help: "Arrow buffer bytes of the record batches served."}, []string{"dataset", "transport"}),
		busy: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pairflow_serve_stage_busy_seconds_total",
			Help: "Pipeline stage busy time, summed over the stage's goroutines and all streams."}, []string{"stage"}),
		blockedIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pairflow_serve_stage_blocked_in_seconds_total",
			Help: "Pipeline stage time blocked waiting for input."}, []string{"stage"}),
		blockedOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pairflow_serve_stage_blocked_out_seconds_total",
			Help: "Pipeline stage time blocked waiting to hand over output (emit: the network)."}, []string{"stage"}),
	}
	reg.MustRegister(m.active, m.connections, m.streams, m.refused, m.batches, m.bytes, m.busy, m.blockedIn, m.blockedOut)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observeStages adds a pipeline stats delta to the stage counters.
func (m *Metrics) observeStages(d pipeline.Stats) {
	for _, s := range d.Stages {
		if s.Busy > 0 {
			m.busy.WithLabelValues(s.Name).Add(s.Busy.Seconds())
		}
		if s.BlockedIn > 0 {
			m.blockedIn.WithLabelValues(s.Name).Add(s.BlockedIn.Seconds())
		}
		if s.BlockedOut > 0 {
			m.blockedOut.WithLabelValues(s.Name).Add(s.BlockedOut.Seconds())
		}
	}
}

// connHandler counts gRPC connections.
func (m *Metrics) connHandler() stats.Handler { return connStats{m} }

type connStats struct{ m *Metrics }

func (c connStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (c connStats) HandleRPC(context.Context, stats.RPCStats)                         {}
func (c connStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c connStats) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		c.m.connections.Inc()
	case *stats.ConnEnd:
		c.m.connections.Dec()
	}
}
