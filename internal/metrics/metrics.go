// Package metrics defines comagicd's Prometheus metrics: HTTP requests by route,
// the database pool, group-commit batches and business counters. Every label
// takes values from a fixed set (routes are patterns, methods are normalised by
// the HTTP layer, paths are the write paths).
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors the server updates.
type Metrics struct {
	Registry *prometheus.Registry

	Requests *prometheus.CounterVec   // by route, method, code
	Latency  *prometheus.HistogramVec // by route, method
	Batches  *prometheus.HistogramVec // committed group-commit batch sizes by write path

	Hits            prometheus.Counter
	NewVisitors     prometheus.Counter
	NewSessions     prometheus.Counter
	Events          prometheus.Counter
	OfflineRequests *prometheus.CounterVec // by source: browser, api
	LeadActions     *prometheus.CounterVec // by widget and action (show, submit, cancel)
	// Callbacks counts the answers to call-back orders by status (0..4) and code.
	Callbacks *prometheus.CounterVec
	// CallbackDispatches counts this node's dispatch attempts of accepted
	// orders by outcome: dispatched, retried, failed.
	CallbackDispatches *prometheus.CounterVec

	// Call tracking (SPEC §9).
	PhoneReservations *prometheus.CounterVec // pool numbers given to sessions, by outcome: claimed, kept
	PoolExhausted     prometheus.Counter     // sessions that found a dynamic pool empty (shown the static or default number)
	Calls             *prometheus.CounterVec // calls stored, by attributed: true, false
}

// New registers the metrics, the Go runtime collectors and, when pool is not
// nil, the pool statistics.
func New(pool *pgxpool.Pool) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "comagicd_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "comagicd_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		Batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "comagicd_group_commit_batch_size", Help: "Items per committed group-commit transaction by write path.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}, []string{"path"}),
		Hits:        prometheus.NewCounter(prometheus.CounterOpts{Name: "comagicd_hits_total", Help: "Recorded page views."}),
		NewVisitors: prometheus.NewCounter(prometheus.CounterOpts{Name: "comagicd_visitors_created_total", Help: "Visitors created."}),
		NewSessions: prometheus.NewCounter(prometheus.CounterOpts{Name: "comagicd_sessions_created_total", Help: "Sessions started."}),
		Events:      prometheus.NewCounter(prometheus.CounterOpts{Name: "comagicd_events_total", Help: "Custom events stored."}),
		OfflineRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "comagicd_offline_requests_total", Help: "Offline requests (leads) stored, by source.",
		}, []string{"source"}),
		LeadActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "comagicd_lead_actions_total", Help: "Lead form shows, submits and cancels stored, by widget and action.",
		}, []string{"widget", "action"}),
		Callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "comagicd_callbacks_total", Help: "Answers to call-back orders, by status (0 accepted .. 4 too many) and code.",
		}, []string{"status", "code"}),
		CallbackDispatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "comagicd_callback_dispatches_total", Help: "Dispatch attempts of accepted call-back orders, by outcome (dispatched, retried, failed).",
		}, []string{"outcome"}),
		PhoneReservations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "comagicd_phone_reservations_total", Help: "Pool numbers given to page views, by outcome: claimed (a free number), kept (the visitor's own).",
		}, []string{"outcome"}),
		PoolExhausted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "comagicd_phone_pool_exhausted_total", Help: "Page views that found a dynamic number pool exhausted and got the static or default number.",
		}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "comagicd_calls_total", Help: "Calls stored from the telephony, by whether a session was found.",
		}, []string{"attributed"}),
	}
	m.Registry.MustRegister(m.Requests, m.Latency, m.Batches, m.Hits, m.NewVisitors, m.NewSessions, m.Events, m.OfflineRequests, m.LeadActions,
		m.Callbacks, m.CallbackDispatches, m.PhoneReservations, m.PoolExhausted, m.Calls,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pool != nil {
		m.Registry.MustRegister(&poolCollector{pool: pool}, &backlogCollector{pool: pool})
	}
	return m
}

// Handler serves the metrics page. It belongs on the metrics listener
// (COMAGICD_METRICS_ADDR), never on the public one.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	return mux
}

// ObserveBatch records the size of a committed batch of a write path.
func (m *Metrics) ObserveBatch(path string, n int) {
	m.Batches.WithLabelValues(path).Observe(float64(n))
}

var (
	poolAcquired = prometheus.NewDesc("comagicd_db_pool_acquired_conns", "Connections in use.", nil, nil)
	poolIdle     = prometheus.NewDesc("comagicd_db_pool_idle_conns", "Idle connections.", nil, nil)
	poolTotal    = prometheus.NewDesc("comagicd_db_pool_total_conns", "Open connections.", nil, nil)
	poolMax      = prometheus.NewDesc("comagicd_db_pool_max_conns", "Pool size limit.", nil, nil)
	poolWaits    = prometheus.NewDesc("comagicd_db_pool_empty_acquire_total", "Acquires that had to wait for a connection.", nil, nil)
	poolWaitSecs = prometheus.NewDesc("comagicd_db_pool_acquire_wait_seconds_total", "Time spent waiting for connections.", nil, nil)
)

// poolCollector exports pgxpool statistics at scrape time.
type poolCollector struct{ pool *pgxpool.Pool }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolWaits, poolWaitSecs} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitSecs, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds())
}

var callbacksOverdue = prometheus.NewDesc("comagicd_callbacks_overdue",
	"Accepted call-back orders due more than a minute ago and not yet dispatched (all nodes).", nil, nil)

// backlogCollector reads at scrape time how far the dispatch of call-backs
// is behind, across nodes: a growing number means no dispatcher runs or the
// scenarios' endpoints keep failing. The count uses the dispatcher's own
// partial index, so it stays cheap.
type backlogCollector struct{ pool *pgxpool.Pool }

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- callbacksOverdue }

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int64
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM callbacks WHERE status = 'scheduled' AND next_attempt_at < now() - interval '1 minute'`).Scan(&n); err != nil {
		ch <- prometheus.NewInvalidMetric(callbacksOverdue, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(callbacksOverdue, prometheus.GaugeValue, float64(n))
}
