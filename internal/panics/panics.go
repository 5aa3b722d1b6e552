package panics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Message is all a caller learns about a panic.
const Message = "internal error"

// Where a panic can happen besides a worker, which names itself.
const (
	WhereGRPC = "grpc"
	WhereHTTP = "http"
)

// ErrPanic is wrapped by the error a recovered panic becomes.
var ErrPanic = errors.New("panic")

// Policy applies the package's policy. It is a prometheus.Collector for
// its counter; register it once and share it between the doors and the
// workers, so that every panic lands in the same series.
type Policy struct {
	log   *slog.Logger
	count *prometheus.CounterVec
}

var _ prometheus.Collector = (*Policy)(nil)

// New returns a Policy that logs to log.
func New(log *slog.Logger) *Policy {
	return &Policy{
		log: log,
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_panics_total",
			Help: "Panics recovered, by where they happened: grpc, http, or the worker's name.",
		}, []string{"where"}),
	}
}

// Describe implements prometheus.Collector.
func (p *Policy) Describe(ch chan<- *prometheus.Desc) { p.count.Describe(ch) }

// Collect implements prometheus.Collector.
func (p *Policy) Collect(ch chan<- prometheus.Metric) { p.count.Collect(ch) }

// Recovered logs and counts v, a value recover returned, and returns it
// as an error wrapping ErrPanic for the caller's failure path. where is a
// metric label: one of the Where constants or a worker's name, never
// anything taken from a request. It must be called from the deferred
// function that recovered, so that the logged stack still shows where
// the panic happened.
func (p *Policy) Recovered(ctx context.Context, where string, v any, attrs ...slog.Attr) error {
	p.count.WithLabelValues(where).Inc()
	p.log.LogAttrs(ctx, slog.LevelError, "panic recovered", append([]slog.Attr{
		slog.String("where", where),
		slog.Any("panic", v),
		slog.String("stack", string(debug.Stack())),
	}, attrs...)...)
	return fmt.Errorf("%w in %s: %v", ErrPanic, where, v)
}

// Recover, deferred directly (defer p.Recover(ctx, where, &err)), stops a
// panic in the surrounding function and makes it return the error
// Recovered gives instead.
func (p *Policy) Recover(ctx context.Context, where string, err *error) {
	if v := recover(); v != nil {
		*err = p.Recovered(ctx, where, v)
	}
}
