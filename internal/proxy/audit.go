package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/worker/startstop"
)

// Audit actions of this package.
const (
	// ActionCall records a forwarded call that may change something.
	ActionCall = "proxy_call"
	// ActionRead records forwarded reads, sampled.
	ActionRead = "proxy_read"
	// ActionDeny records calls the broker refused for a lease, sampled.
	ActionDeny = "proxy_deny"
)

// auditWriteTimeout bounds one audit write.
const auditWriteTimeout = 5 * time.Second

// auditWriter appends proxied calls' events off the request path: the
// caller gets Central's answer without waiting for a commit, and events
// that queue up while one batch commits go in the next, one statement
// for many. When the queue is full, or the writer is not running, events
// are written inline instead, so load slows callers down rather than
// losing events. Events still queued at Stop are written before Stop
// returns; a crash loses at most what the queue held.
type auditWriter struct {
	st      store.Store
	log     *slog.Logger
	failed  func()
	q       chan *store.AuditEvent
	running atomic.Bool
	run     startstop.Runner
}

// maxAuditBatch bounds one batch's statement.
const maxAuditBatch = 256

func newAuditWriter(st store.Store, log *slog.Logger, size int, failed func()) *auditWriter {
	return &auditWriter{st: st, log: log, failed: failed, q: make(chan *store.AuditEvent, size)}
}

func (a *auditWriter) add(ctx context.Context, e *store.AuditEvent) {
	if a.running.Load() {
		select {
		case a.q <- e:
			return
		default:
		}
	}
	a.write(ctx, []*store.AuditEvent{e})
}

func (a *auditWriter) write(ctx context.Context, batch []*store.AuditEvent) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditWriteTimeout)
	defer cancel()
	var err error
	if len(batch) == 1 {
		err = a.st.AppendAudit(ctx, batch[0])
	} else {
		err = a.st.AppendAudits(ctx, batch)
	}
	if err != nil {
		for range batch {
			a.failed()
		}
		a.log.ErrorContext(ctx, "audit of proxied calls failed", "events", len(batch), "lease_id", batch[0].LeaseID, "err", err)
	}
}

func (a *auditWriter) start(ctx context.Context) {
	if a.run.Start(ctx, a.loop) {
		a.running.Store(true)
	}
}

func (a *auditWriter) stop() {
	a.running.Store(false)
	a.run.Stop()
	a.drain(context.Background())
}

func (a *auditWriter) loop(ctx context.Context) {
	for {
		select {
		case e := <-a.q:
			a.write(ctx, a.collect(e))
		case <-ctx.Done():
			return
		}
	}
}

// collect takes what else is queued, up to a batch.
func (a *auditWriter) collect(first *store.AuditEvent) []*store.AuditEvent {
	batch := []*store.AuditEvent{first}
	for len(batch) < maxAuditBatch {
		select {
		case e := <-a.q:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

func (a *auditWriter) drain(ctx context.Context) {
	for {
		select {
		case e := <-a.q:
			a.write(ctx, a.collect(e))
		default:
			return
		}
	}
}

// sampler decides which reads and refusals reach the audit trail: the
// first for each lease and key in an interval, carrying the count of
// those it stood in for since the last one recorded.
type sampler struct {
	interval time.Duration
	mu       sync.Mutex
	seen     map[sampleKey]*sampled
}

// sampleKey is what a sampled record stands for: one lease's reads of one
// route, or its refusals for one reason and route. A struct, not a joined
// string, so that looking it up allocates nothing.
type sampleKey struct {
	lease, kind, route string
}

type sampled struct {
	last    time.Time
	skipped int
}

// maxSampled bounds the sampler's memory; past it, entries older than an
// interval are forgotten (their next call is recorded, which is safe).
const maxSampled = 10_000

func newSampler(interval time.Duration) *sampler {
	return &sampler{interval: interval, seen: map[sampleKey]*sampled{}}
}

// take reports whether to record a call now, and how many calls with the
// same key went unrecorded since the last one that was.
func (s *sampler) take(key sampleKey, now time.Time) (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.seen[key]
	if e == nil {
		if len(s.seen) >= maxSampled {
			s.pruneLocked(now)
		}
		s.seen[key] = &sampled{last: now}
		return true, 0
	}
	if now.Sub(e.last) < s.interval {
		e.skipped++
		return false, 0
	}
	n := e.skipped
	e.last, e.skipped = now, 0
	return true, n
}

func (s *sampler) pruneLocked(now time.Time) {
	for k, e := range s.seen {
		if now.Sub(e.last) >= s.interval {
			delete(s.seen, k)
		}
	}
}

// call is what the audit trail and the log say about one proxied call:
// ids, the operation, the status and the latency; never a body, a query
// value or a credential.
type call struct {
	lease *store.ProxyLease
	// upstream is the upstream the call goes to: its purpose's, which the
	// audit trail names because the narrow lease read does not carry one.
	upstream  string
	method    string
	route     string
	resources []string
	status    int
	latency   time.Duration
	result    string
	detail    string
}

func (c call) reason(skipped int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", c.method, c.route)
	for _, r := range c.resources {
		b.WriteByte(' ')
		b.WriteString(r)
	}
	fmt.Fprintf(&b, " status=%d", c.status)
	if c.latency > 0 {
		fmt.Fprintf(&b, " upstream_ms=%.1f", float64(c.latency.Microseconds())/1000)
	}
	if c.detail != "" {
		b.WriteString(" ")
		b.WriteString(c.detail)
	}
	if skipped > 0 {
		fmt.Fprintf(&b, " (and %d more since the last recorded)", skipped)
	}
	return b.String()
}

func (c call) event(action string, now time.Time, skipped int) *store.AuditEvent {
	kind, subject, _ := strings.Cut(c.lease.Owner, ":")
	return &store.AuditEvent{
		Time: now, Action: action, ActorKind: kind, ActorSubject: subject,
		Purpose: c.lease.Purpose, LeaseID: c.lease.ID, Result: c.result,
		Reason: c.reason(skipped), TokenSHA256: c.lease.TokenSHA256, Upstream: c.upstream,
	}
}
