package refusal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/keyrate"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/worker/startstop"
)

// Rate is a token bucket: PerSecond tokens a second, up to Burst. A zero
// PerSecond disables the limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

func (r Rate) on() bool { return r.PerSecond > 0 }

// ActionSummary is the audit action of a summary event.
const ActionSummary = "refusals_summary"

// workerName labels the flusher's panics.
const workerName = "refusal-summary"

// finalFlushTimeout bounds the flush at shutdown.
const finalFlushTimeout = 5 * time.Second

// maxSummaries bounds the owners with pending counts; the counts of any
// further owner go to one shared summary.
const maxSummaries = 10_000

// Config configures a Limiter. Store, Logger, Panics and Registerer are
// required.
type Config struct {
	// PerOwner and PerAddress bound how often one lease owner, and one
	// source address, may be refused before being turned away.
	PerOwner, PerAddress Rate
	// Events bounds the refusal events one owner adds to the audit trail.
	Events Rate
	// Interval is how often summaries are written; default one minute.
	Interval time.Duration

	Store      store.Store
	Logger     *slog.Logger
	Panics     *panics.Policy
	Registerer prometheus.Registerer
	Now        func() time.Time
	// OnFlush, when set, is called after every flush; it must not block.
	OnFlush func(written int, err error)
}

// Limiter applies both limits. It is safe for concurrent use; Start and
// Stop run the summary flusher.
type Limiter struct {
	cfg                  Config
	owners, addrs, event *keyrate.Set
	runner               startstop.Runner

	turned, unrecorded *prometheus.CounterVec

	mu      sync.Mutex
	pending map[string]*summary
}

// summary is what has not been recorded for one owner since the last
// flush.
type summary struct {
	actor       store.AuditEvent // kind, subject and claims of the owner
	purposes    map[string]bool
	unrecorded  map[string]int // by action
	turnedAway  int
	first, last time.Time
}

// New checks cfg and returns a Limiter.
func New(cfg Config) (*Limiter, error) {
	if cfg.Store == nil || cfg.Logger == nil || cfg.Panics == nil || cfg.Registerer == nil {
		return nil, errors.New("refusal: Store, Logger, Panics and Registerer are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	l := &Limiter{
		cfg:     cfg,
		owners:  keyrate.New(cfg.PerOwner.PerSecond, cfg.PerOwner.Burst, 0),
		addrs:   keyrate.New(cfg.PerAddress.PerSecond, cfg.PerAddress.Burst, 0),
		event:   keyrate.New(cfg.Events.PerSecond, cfg.Events.Burst, 0),
		pending: map[string]*summary{},
		turned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_requests_turned_away_total",
			Help: "Requests turned away, before any database work, because their owner or source address was refused too often; by which limit.",
		}, []string{"limit"}),
		unrecorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_audit_events_unrecorded_total",
			Help: "Refusal events counted into a summary instead of recorded one by one, by action.",
		}, []string{"action"}),
	}
	for _, c := range []prometheus.Collector{l.turned, l.unrecorded} {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Admit reports whether a request of owner from addr may proceed, or how
// long the caller should wait: its owner or address has been refused too
// often lately. actor describes the caller for the summary; it is called
// only for a request turned away.
func (l *Limiter) Admit(owner, addr string, actor func() *store.AuditEvent) (time.Duration, bool) {
	now := l.cfg.Now()
	var wait time.Duration
	limit := ""
	if l.cfg.PerOwner.on() {
		if d := l.owners.Wait(owner, now); d > 0 {
			wait, limit = d, "owner"
		}
	}
	if l.cfg.PerAddress.on() && addr != "" {
		if d := l.addrs.Wait(addr, now); d > wait {
			wait, limit = d, "address"
		}
	}
	if wait == 0 {
		return 0, true
	}
	l.turned.WithLabelValues(limit).Inc()
	var ev *store.AuditEvent
	if actor != nil {
		ev = actor()
	}
	l.note(owner, ev, "", now, func(s *summary) { s.turnedAway++ })
	return wait, false
}

// Refused counts one refusal of owner from addr against both buckets and
// reports whether its audit event ev may be recorded; when it may not, it
// is counted into the owner's next summary.
func (l *Limiter) Refused(owner, addr string, ev *store.AuditEvent) bool {
	now := l.cfg.Now()
	if l.cfg.PerOwner.on() {
		l.owners.Take(owner, now)
	}
	if l.cfg.PerAddress.on() && addr != "" {
		l.addrs.Take(addr, now)
	}
	if !l.cfg.Events.on() || l.event.Take(owner, now) {
		return true
	}
	l.unrecorded.WithLabelValues(ev.Action).Inc()
	l.note(owner, ev, ev.Purpose, now, func(s *summary) { s.unrecorded[ev.Action]++ })
	return false
}

func (l *Limiter) note(owner string, actor *store.AuditEvent, purpose string, now time.Time, count func(*summary)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.pending[owner]
	if !ok {
		if len(l.pending) >= maxSummaries {
			owner = "" // the shared overflow summary
			s, ok = l.pending[owner]
		}
		if !ok {
			s = &summary{purposes: map[string]bool{}, unrecorded: map[string]int{}, first: now}
			if actor != nil && owner != "" {
				s.actor = store.AuditEvent{ActorKind: actor.ActorKind, ActorSubject: actor.ActorSubject, ActorClaims: actor.ActorClaims}
			}
			l.pending[owner] = s
		}
	}
	if purpose != "" {
		s.purposes[purpose] = true
	}
	s.last = now
	count(s)
}

// Flush writes one summary event per owner with pending counts and
// returns how many it wrote. Counts whose event cannot be written are
// kept for the next flush.
func (l *Limiter) Flush(ctx context.Context) (written int, err error) {
	defer l.cfg.Panics.Recover(ctx, workerName, &err)
	l.mu.Lock()
	pending := l.pending
	l.pending = map[string]*summary{}
	l.mu.Unlock()

	now := l.cfg.Now().UTC()
	var errs []error
	for _, owner := range slices.Sorted(maps.Keys(pending)) {
		s := pending[owner]
		ev := s.event(now)
		if err := l.cfg.Store.AppendAudit(context.WithoutCancel(ctx), ev); err != nil {
			errs = append(errs, err)
			l.requeue(owner, s)
			continue
		}
		written++
	}
	return written, errors.Join(errs...)
}

// requeue merges an unwritten summary back into the pending counts.
func (l *Limiter) requeue(owner string, old *summary) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.pending[owner]
	if !ok {
		l.pending[owner] = old
		return
	}
	s.first = old.first
	s.turnedAway += old.turnedAway
	for a, n := range old.unrecorded {
		s.unrecorded[a] += n
	}
	for p := range old.purposes {
		s.purposes[p] = true
	}
}

func (s *summary) event(now time.Time) *store.AuditEvent {
	ev := s.actor
	ev.Time, ev.Action, ev.Result = now, ActionSummary, "summarized"
	if len(s.purposes) == 1 {
		for p := range s.purposes {
			ev.Purpose = p
		}
	}
	var parts []string
	for _, a := range slices.Sorted(maps.Keys(s.unrecorded)) {
		parts = append(parts, fmt.Sprintf("%d %s events not recorded", s.unrecorded[a], a))
	}
	if s.turnedAway > 0 {
		parts = append(parts, fmt.Sprintf("%d requests turned away", s.turnedAway))
	}
	who := ""
	if ev.ActorKind == "" {
		who = " (owners beyond the summary table, together)"
	}
	ev.Reason = fmt.Sprintf("%s between %s and %s%s", strings.Join(parts, ", "),
		s.first.UTC().Format(time.RFC3339), s.last.UTC().Format(time.RFC3339), who)
	return &ev
}

// Start runs the flusher: a flush every Interval, and one more when it
// stops so that no count is lost at shutdown.
func (l *Limiter) Start(ctx context.Context) error {
	if !l.runner.Start(ctx, l.loop) {
		return errors.New("refusal: already started")
	}
	return nil
}

// Stop ends the flusher after its last flush. It is idempotent.
func (l *Limiter) Stop() { l.runner.Stop() }

func (l *Limiter) loop(ctx context.Context) {
	t := time.NewTicker(l.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			l.flush(fctx)
			cancel()
			return
		case <-t.C:
			l.flush(ctx)
		}
	}
}

func (l *Limiter) flush(ctx context.Context) {
	n, err := l.Flush(ctx)
	if err != nil {
		l.cfg.Logger.WarnContext(ctx, "writing refusal summaries failed; will retry", "err", err)
	}
	if l.cfg.OnFlush != nil {
		l.cfg.OnFlush(n, err)
	}
}
