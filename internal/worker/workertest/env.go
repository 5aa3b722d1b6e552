package workertest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
	"github.com/ztbroker/ztbroker/internal/worker"
)

// Prefix is the token name prefix the bench's leases use.
const Prefix = "ztb"

// Owner is the identity the bench's leases belong to.
const Owner = "api_key:ci"

// Env is a store, an emulator and both kinds of issuer sharing one clock.
type Env struct {
	Clock      *Clock
	Store      store.Store
	Emu        *emulatortest.Emulator
	NewCentral upstream.Issuer
	Legacy     upstream.Issuer
	Registry   *upstream.Registry
	Logger     *slog.Logger
}

// NewEnv builds an Env on a fresh database. The emulator runs on the
// bench's clock unless opts set another.
func NewEnv(t testing.TB, opts ...emulator.Option) *Env {
	t.Helper()
	return NewEnvOn(t, pgstore.New(pgtest.NewPool(t)), opts...)
}

// NewEnvOn is NewEnv on a given store.
func NewEnvOn(t testing.TB, st store.Store, opts ...emulator.Option) *Env {
	t.Helper()
	clock := NewClock()
	emu := emulatortest.Start(t, append([]emulator.Option{emulator.WithClock(clock.Now)}, opts...)...)
	nc := emu.NewCentralIssuer(t)
	lg := emu.LegacyIssuer(t)
	return &Env{
		Clock: clock, Store: st, Emu: emu, NewCentral: nc, Legacy: lg,
		Registry: upstream.NewRegistry(nc, lg),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// Deps is what a worker on this Env takes, with its metrics, and those of
// a panic policy of its own, on reg.
func (e *Env) Deps(reg prometheus.Registerer) worker.Deps {
	p := panics.New(e.Logger)
	if reg != nil {
		reg.MustRegister(p)
	}
	return worker.Deps{Store: e.Store, Registry: e.Registry, Logger: e.Logger, Panics: p, Registerer: reg, Now: e.Clock.Now}
}

// Pending writes a pending lease on is, as the broker does before it
// mints, and returns it.
func (e *Env) Pending(t testing.TB, is upstream.Issuer, purpose string, expire time.Time) *lease.Lease {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	now := e.Clock.Now()
	res, err := e.Store.CreatePending(context.Background(), store.CreatePendingParams{
		ID: id, Purpose: purpose, Owner: Owner,
		Upstream: is.Upstream(), UpstreamKind: is.Kind(), UpstreamAccount: is.Account(),
		UpstreamName: lease.UpstreamNameFor(Prefix, purpose, id),
		Now:          now, ExpireTime: expire, MaxExpireTime: expire.Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("create pending: %v", err)
	}
	return res.Lease
}

// ActiveProxy writes a proxy lease on an upstream account the way the broker
// issues one (pending, then active with the credential's hash; nothing
// upstream) and returns it. With activate false it stays pending, as an
// issue interrupted by a crash leaves it.
func (e *Env) ActiveProxy(t testing.TB, kind, account, purpose string, expire time.Time, activate bool) *lease.Lease {
	t.Helper()
	id := uuid.NewString()
	now := e.Clock.Now()
	res, err := e.Store.CreatePending(context.Background(), store.CreatePendingParams{
		ID: id, Purpose: purpose, Owner: Owner, Delivery: lease.DeliveryProxy,
		Upstream: kind, UpstreamAccount: account,
		Now: now, ExpireTime: expire, MaxExpireTime: expire.Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("create pending proxy lease: %v", err)
	}
	if !activate {
		return res.Lease
	}
	l, err := e.Store.Activate(context.Background(), store.ActivateParams{
		ID: id, TokenSHA256: lease.HashToken("ztbp_" + id), Now: now,
	})
	if err != nil {
		t.Fatalf("activate proxy lease: %v", err)
	}
	return l
}

// MintUpstream mints the token for a pending lease without activating it,
// as a broker that crashes right after the mint would.
func (e *Env) MintUpstream(t testing.TB, is upstream.Issuer, l *lease.Lease) *upstream.Minted {
	t.Helper()
	m, err := is.Mint(context.Background(), l.UpstreamName, e.Clock.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return m
}

// Active mints a lease the way the broker does (pending, mint, activate)
// and returns it with the token's secret.
func (e *Env) Active(t testing.TB, is upstream.Issuer, purpose string, expire time.Time) (*lease.Lease, string) {
	t.Helper()
	l := e.Pending(t, is, purpose, expire)
	m := e.MintUpstream(t, is, l)
	l, err := e.Store.Activate(context.Background(), store.ActivateParams{
		ID: l.ID, UpstreamTokenID: m.ID, TokenSHA256: lease.HashToken(m.Secret),
		UpstreamExpireTime: m.Expires, Now: e.Clock.Now(),
	})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	return l, m.Secret
}

// Lease reads a lease back.
func (e *Env) Lease(t testing.TB, id string) *lease.Lease {
	t.Helper()
	l, err := e.Store.GetLease(context.Background(), store.GetLeaseParams{ID: id})
	if err != nil {
		t.Fatalf("get lease %s: %v", id, err)
	}
	return l
}

// Actions lists the audit actions recorded for a lease, oldest first.
func (e *Env) Actions(t testing.TB, leaseID string) []string {
	t.Helper()
	res, err := e.Store.ListAudit(context.Background(), store.ListAuditParams{LeaseID: leaseID, PageSize: 100})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	out := make([]string, 0, len(res.Events))
	for i := len(res.Events) - 1; i >= 0; i-- {
		out = append(out, res.Events[i].Action)
	}
	return out
}

// TokenWorks reports whether the secret is still accepted upstream.
func (e *Env) TokenWorks(t testing.TB, is upstream.Issuer, secret string) bool {
	t.Helper()
	switch st := e.Emu.TryToken(context.Background(), is.AuthScheme(), secret); st {
	case 200:
		return true
	case 401, 403:
		return false
	default:
		t.Fatalf("trying a token: unexpected status %d", st)
		return false
	}
}

// MintUpstreamNamed mints a token named name with no lease behind it.
func (e *Env) MintUpstreamNamed(t testing.TB, is upstream.Issuer, name string) *upstream.Minted {
	t.Helper()
	m, err := is.Mint(context.Background(), name, e.Clock.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatalf("mint %q: %v", name, err)
	}
	return m
}
