package adminkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/worker/startstop"
)

// workerName labels the worker's log lines and panics.
const workerName = "adminkey"

// Keeper keeps every upstream's admin credential. Create it with New, call
// Init before serving, then Start.
type Keeper struct {
	cfg     Config
	log     *slog.Logger
	tracer  trace.Tracer
	metrics *metrics
	runner  startstop.Runner
	ups     []*managed
	byName  map[string]*managed
	reload  chan struct{}
}

// managed is one upstream's state in this process.
type managed struct {
	u *Upstream

	// mu serialises syncs and rotation steps for the upstream here; the
	// store's rotation lock does it across replicas.
	mu sync.Mutex
	// configSecret is the configured secret as last read; file its state.
	configSecret string
	file         fileState
	// warnedAt limits the expiry warning to one line an hour.
	warnedAt time.Time
	// lastErr is the last sync's failure, for Status.
	lastErr error
	// checked is set once the credential has been inspected upstream.
	checked bool
	// open says the last sync found a rotation open.
	open bool
}

func (m *managed) inspected() bool { return m.checked }
func (m *managed) setInspected()   { m.checked = true }

// New validates cfg and registers the metrics.
func New(cfg Config) (*Keeper, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	k := &Keeper{
		cfg:    cfg,
		log:    cfg.Logger.With(slog.String("worker", workerName)),
		tracer: cfg.TracerProvider.Tracer("github.com/ztbroker/ztbroker/internal/worker/adminkey"),
		byName: map[string]*managed{},
		reload: make(chan struct{}, 1),
	}
	for _, u := range cfg.Upstreams {
		secret, _ := u.Credential.Secret()
		m := &managed{u: u, configSecret: secret}
		k.ups = append(k.ups, m)
		k.byName[u.Name] = m
		u.Credential.SetRefresher(func(ctx context.Context) error { return k.refresh(ctx, m) }, k.log)
	}
	m, err := newMetrics(&cfg.Deps, k)
	if err != nil {
		return nil, err
	}
	k.metrics = m
	// Counters start at zero, so that an alert on their increase sees the
	// first event.
	for _, u := range cfg.Upstreams {
		if u.API != nil {
			for _, r := range []string{"switched", "done", "failed"} {
				m.rotations.WithLabelValues(u.Name, r)
			}
		}
	}
	return k, nil
}

// Init checks every upstream's credential before the broker serves: it
// takes up a key rotated earlier, checks the key works, learns its id and
// expiry, and fails — naming the upstream and the problem — on a refused
// key, an unknown account, or a key expiring within ExpiryMinimum (unless
// the upstream rotates).
func (k *Keeper) Init(ctx context.Context) error {
	for _, m := range k.ups {
		if err := k.init(ctx, m); err != nil {
			return fmt.Errorf("upstream %s: %w", m.u.Name, err)
		}
	}
	return nil
}

func (k *Keeper) init(ctx context.Context, m *managed) error {
	ctx, cancel := context.WithTimeout(ctx, k.cfg.CallTimeout)
	defer cancel()
	if m.u.SecretFile != "" {
		m.file = statFile(m.u.SecretFile)
	}
	if err := k.sync(ctx, m); err != nil {
		return err
	}
	info := m.u.Credential.Info()
	now := k.cfg.Now()
	if !info.Expires.IsZero() {
		left := info.Expires.Sub(now)
		switch {
		case left <= 0:
			return fmt.Errorf("admin key %s expired at %s", info.KeyID, info.Expires.UTC().Format(time.RFC3339))
		case left < m.u.ExpiryMinimum && m.u.Rotate == nil:
			return fmt.Errorf("admin key %s expires at %s, within expiry_minimum (%s): replace it, or set rotate",
				info.KeyID, info.Expires.UTC().Format(time.RFC3339), m.u.ExpiryMinimum)
		}
	}
	if !k.due(m) {
		// A key already due for rotation is reported by the first pass,
		// once it has tried.
		k.warnExpiry(ctx, m, info, now)
	}
	k.log.InfoContext(ctx, "admin credential checked", slog.String("upstream", m.u.Name),
		slog.String("key_id", info.KeyID), slog.String("account", info.Account),
		slog.String("source", info.Source), slog.Time("expires", info.Expires))
	return nil
}

// Start launches the loop. Starting a running keeper does nothing.
func (k *Keeper) Start(ctx context.Context) error {
	k.runner.Start(ctx, k.loop)
	return nil
}

// Stop ends the loop and waits for it. It is safe to call more than once.
func (k *Keeper) Stop() { k.runner.Stop() }

// Reload re-reads every secret file at once, as on SIGHUP.
func (k *Keeper) Reload() {
	select {
	case k.reload <- struct{}{}:
	default:
	}
}

func (k *Keeper) loop(ctx context.Context) {
	fileTick := time.NewTicker(k.cfg.FileCheck)
	defer fileTick.Stop()
	poll := k.minPoll()
	pollTick := time.NewTicker(poll)
	defer pollTick.Stop()
	next := map[*managed]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.reload:
			for _, m := range k.ups {
				if m.u.SecretFile != "" {
					k.pass(ctx, m, true)
				}
			}
		case <-fileTick.C:
			for _, m := range k.ups {
				if m.u.SecretFile != "" && statFile(m.u.SecretFile) != m.fileState() {
					k.pass(ctx, m, true)
				}
			}
		case <-pollTick.C:
			now := time.Now()
			for _, m := range k.ups {
				if now.Before(next[m]) {
					continue
				}
				next[m] = now.Add(m.u.Poll)
				k.pass(ctx, m, false)
			}
		}
	}
}

func (k *Keeper) minPoll() time.Duration {
	p := time.Duration(0)
	for _, m := range k.ups {
		if p == 0 || m.u.Poll < p {
			p = m.u.Poll
		}
	}
	if p == 0 {
		p = DefaultPoll
	}
	return p
}

// RunOnce does what the loop does on a poll, for every upstream at once,
// and returns what failed.
func (k *Keeper) RunOnce(ctx context.Context) error {
	var all []error
	for _, m := range k.ups {
		if err := k.pass(ctx, m, false); err != nil {
			all = append(all, fmt.Errorf("upstream %s: %w", m.u.Name, err))
		}
	}
	return errors.Join(all...)
}

// pass syncs one upstream and takes any rotation step that is due.
func (k *Keeper) pass(ctx context.Context, m *managed, readFile bool) error {
	ctx, span := k.tracer.Start(ctx, "adminkey.pass")
	defer span.End()
	var err error
	func() {
		defer k.cfg.Panics.Recover(ctx, workerName, &err)
		cctx, cancel := context.WithTimeout(ctx, k.cfg.CallTimeout)
		defer cancel()
		if readFile {
			m.mu.Lock()
			m.file = fileState{} // force a read
			m.mu.Unlock()
		}
		if err = k.sync(cctx, m); err != nil {
			return
		}
		m.mu.Lock()
		work := m.open || k.due(m)
		m.mu.Unlock()
		// The lock costs a connection of its own: take it only when a
		// rotation is open or due.
		if work && m.u.API != nil && k.cfg.Sealer != nil {
			_, err = k.step(cctx, m, nil)
		}
		// After the step, so that a key the step has just replaced is not
		// reported, and one it failed to replace is.
		k.warnExpiry(cctx, m, m.u.Credential.Info(), k.cfg.Now())
	}()
	if err != nil && ctx.Err() == nil {
		k.log.WarnContext(ctx, "admin credential upkeep failed; will retry", slog.String("upstream", m.u.Name), slog.Any("error", err))
	}
	if k.cfg.OnSync != nil {
		k.cfg.OnSync(m.u.Name, err)
	}
	return err
}

func (m *managed) fileState() fileState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.file
}

// warnExpiry logs, at most hourly, a key inside its warning margin.
func (k *Keeper) warnExpiry(ctx context.Context, m *managed, info upstream.AdminInfo, now time.Time) {
	if info.Expires.IsZero() {
		return
	}
	left := info.Expires.Sub(now)
	if left >= m.u.ExpiryWarning {
		return
	}
	m.mu.Lock()
	due := m.warnedAt.IsZero() || now.Sub(m.warnedAt) >= time.Hour
	if due {
		m.warnedAt = now
	}
	m.mu.Unlock()
	if !due {
		return
	}
	level, msg := slog.LevelWarn, "the admin key expires soon; replace it or set rotate"
	attrs := []slog.Attr{slog.String("upstream", m.u.Name), slog.String("key_id", info.KeyID),
		slog.Time("expires", info.Expires), slog.Duration("left", left.Round(time.Second)),
		slog.Duration("warning_margin", m.u.ExpiryWarning)}
	if r := m.u.Rotate; r != nil {
		// Before the rotation window there is nothing to do but wait, so
		// the line informs; inside it the keeper has already tried, so a
		// key still this close to expiry means rotation is failing.
		attrs = append(attrs, slog.Duration("rotate_before", r.Before))
		if left >= r.Before {
			level, msg = slog.LevelInfo, "the admin key expires soon; rotation will replace it"
			attrs = append(attrs, slog.Duration("rotation_in", (left-r.Before).Round(time.Second)))
		} else {
			msg = "the admin key is due for rotation and has not been rotated"
		}
	}
	k.log.LogAttrs(ctx, level, msg, attrs...)
}

func (k *Keeper) upstream(name string) (*managed, error) {
	m, ok := k.byName[name]
	if !ok {
		return nil, errs.Public(errs.NotFound, fmt.Sprintf("upstream %q is not configured", truncate(name, 64)))
	}
	return m, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
