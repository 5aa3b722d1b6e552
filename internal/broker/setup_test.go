package broker

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/policy"
	"github.com/ztbroker/ztbroker/internal/seal"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
	"github.com/ztbroker/ztbroker/internal/worker"
	"github.com/ztbroker/ztbroker/internal/worker/revoker"
)

// Purposes every bench carries. Each quota purpose has exactly one limit,
// so a rejection can only come from that limit.
const (
	purposeNC          = "netops"
	purposeLegacy      = "legacy-ops"
	purposeQuotaActive = "quota-purpose"
	purposeQuotaOwner  = "quota-owner"
	purposeQuotaRate   = "quota-rate"
	purposeProxy       = "scoped"
	proxyBaseURL       = "https://broker.test/zt/scoped"

	namePrefix  = "ztb"
	defaultTTL  = time.Hour
	maxTTL      = 4 * time.Hour
	ruleCap     = 30 * time.Minute
	expirySkew  = 5 * time.Minute
	rateWindow  = time.Hour
	replayAfter = 10 * time.Minute
)

// Callers. Alice is admitted everywhere by API key, Carol to netops by
// subject, the CI identity to netops by a CEL rule with a lower cap, Bob
// nowhere. Root is an admin but, like any identity, admitted to no
// purpose by its role alone.
var (
	alice = &auth.Identity{Kind: auth.KindAPIKey, Subject: "alice"}
	dave  = &auth.Identity{Kind: auth.KindAPIKey, Subject: "dave"}
	bob   = &auth.Identity{Kind: auth.KindAPIKey, Subject: "bob"}
	carol = &auth.Identity{Kind: auth.KindOIDC, Subject: "carol"}
	ci    = &auth.Identity{Kind: auth.KindOIDC, Subject: "repo:acme/infra", Claims: map[string]any{"repo": "acme/infra"}}
	wide  = &auth.Identity{Kind: auth.KindOIDC, Subject: "repo:acme/wide", Claims: map[string]any{"repo": "acme/wide"}}
	root  = &auth.Identity{Kind: auth.KindAPIKey, Subject: "root", Admin: true}
)

// Rule names and expressions a denial must never reveal.
var policyInternals = []string{"ci-main", "wide-rule", "acme/infra", "acme/wide", `claims.repo`, "api_keys", "subjects"}

// clock is a manual clock shared by the service and the emulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// revokerSpy is the real revocation worker, never started, recording the
// nudges the service gives it.
type revokerSpy struct {
	*revoker.Worker

	mu     sync.Mutex
	nudges []time.Time
}

func (r *revokerSpy) Nudge(due time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nudges = append(r.nudges, due)
}

func (r *revokerSpy) Nudges() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.nudges...)
}

// syncBuffer collects log output from any goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bench is what setup returns: a Service on a memory store, an emulator on
// the same fake clock, and the real clients pointed at it.
type bench struct {
	svc     *Service
	store   store.Store
	mem     *memstore.Store
	emu     *emulatortest.Emulator
	clock   *clock
	nc      upstream.Issuer
	legacy  upstream.Issuer
	revoker *revokerSpy
	logs    *syncBuffer
	cfg     Config
}

type benchOptions struct {
	emulator   []emulator.Option
	ncMods     []func(*newcentral.Config)
	legacyMods []func(*legacy.Config)
	wrapStore  func(store.Store) store.Store
	sealer     Sealer
	config     func(*Config)
}

type benchOption func(*benchOptions)

// withEmulator passes options to the emulator.
func withEmulator(opts ...emulator.Option) benchOption {
	return func(o *benchOptions) { o.emulator = append(o.emulator, opts...) }
}

// withNewCentral adjusts the New Central client's config.
func withNewCentral(mods ...func(*newcentral.Config)) benchOption {
	return func(o *benchOptions) { o.ncMods = append(o.ncMods, mods...) }
}

// withLegacy adjusts the Legacy client's config.
func withLegacy(mods ...func(*legacy.Config)) benchOption {
	return func(o *benchOptions) { o.legacyMods = append(o.legacyMods, mods...) }
}

// withStore puts a wrapper around the memory store the service uses.
func withStore(wrap func(store.Store) store.Store) benchOption {
	return func(o *benchOptions) { o.wrapStore = wrap }
}

// withSealer configures idempotent replay with a window of replayAfter.
func withSealer(s Sealer) benchOption {
	return func(o *benchOptions) { o.sealer = s }
}

// withConfig adjusts the service's config before New.
func withConfig(f func(*Config)) benchOption {
	return func(o *benchOptions) { o.config = f }
}

func newSealer(t testing.TB) *seal.Sealer {
	key := make([]byte, seal.KeySize)
	_, _ = rand.Read(key)
	s, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func compile(t testing.TB, purpose string, s policy.Spec) *policy.Policy {
	t.Helper()
	p, err := policy.Compile(purpose, s)
	if err != nil {
		t.Fatalf("compile policy %s: %v", purpose, err)
	}
	return p
}

func setup(t *testing.T, opts ...benchOption) *bench {
	t.Helper()
	var o benchOptions
	for _, opt := range opts {
		opt(&o)
	}
	clk := newClock()
	emu := emulatortest.Start(t, append([]emulator.Option{emulator.WithClock(clk.Now)}, o.emulator...)...)
	nc := emu.NewCentralIssuer(t, o.ncMods...)
	lg := emu.LegacyIssuer(t, o.legacyMods...)

	mem := memstore.New()
	var st store.Store = mem
	if o.wrapStore != nil {
		st = o.wrapStore(mem)
	}

	aliceOnly := policy.Spec{APIKeys: []string{"alice", "dave"}}
	ps, err := NewPurposes([]*Purpose{
		{
			Name: purposeNC, Description: "network operations",
			DefaultTTL: defaultTTL, MaxTTL: maxTTL, Issuer: nc,
			Policy: compile(t, purposeNC, policy.Spec{
				APIKeys:  []string{"alice", "dave"},
				Subjects: []string{"oidc:carol"},
				Rules: []policy.RuleSpec{
					{Name: "ci-main", Expr: `claims.repo == "acme/infra"`, MaxTTL: ruleCap},
					// A cap above the purpose's max does not raise it.
					{Name: "wide-rule", Expr: `claims.repo == "acme/wide"`, MaxTTL: 10 * maxTTL},
				},
			}),
		},
		{Name: purposeLegacy, DefaultTTL: defaultTTL, MaxTTL: maxTTL, Issuer: lg, Policy: compile(t, purposeLegacy, aliceOnly)},
		{
			Name: purposeQuotaActive, DefaultTTL: defaultTTL, MaxTTL: maxTTL, Issuer: nc,
			Policy: compile(t, purposeQuotaActive, aliceOnly),
			Quota:  &store.Quota{MaxActivePerPurpose: 1},
		},
		{
			Name: purposeQuotaOwner, DefaultTTL: defaultTTL, MaxTTL: maxTTL, Issuer: nc,
			Policy: compile(t, purposeQuotaOwner, aliceOnly),
			Quota:  &store.Quota{MaxActivePerOwner: 1},
		},
		{
			Name: purposeQuotaRate, DefaultTTL: defaultTTL, MaxTTL: maxTTL, Issuer: nc,
			Policy: compile(t, purposeQuotaRate, aliceOnly),
			Quota:  &store.Quota{MaxIssuesPerWindow: 2, Window: rateWindow},
		},
		{
			Name: purposeProxy, DefaultTTL: defaultTTL, MaxTTL: maxTTL, Issuer: nc,
			Policy:   compile(t, purposeProxy, aliceOnly),
			Delivery: lease.DeliveryProxy, ProxyBaseURL: proxyBaseURL, ProxyAuthScheme: "Bearer",
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})
	w, err := revoker.New(revoker.Config{Deps: worker.Deps{
		Store: st, Registry: ps.Registry(), Logger: log, Panics: panics.New(log), Now: clk.Now,
	}})
	if err != nil {
		t.Fatal(err)
	}
	spy := &revokerSpy{Worker: w}
	names := make([]string, 0, len(ps.All()))
	for _, p := range ps.All() {
		names = append(names, p.Name)
	}
	m, err := NewMetrics(prometheus.NewRegistry(), st, names...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Store: st, Purposes: ps, Revoker: spy, Logger: log, Metrics: m,
		Now: clk.Now, NamePrefix: namePrefix, ExpirySkew: expirySkew,
	}
	if o.sealer != nil {
		cfg.Sealer, cfg.ReplayWindow = o.sealer, replayAfter
	}
	if o.config != nil {
		o.config(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &bench{svc: svc, store: st, mem: mem, emu: emu, clock: clk, nc: nc, legacy: lg, revoker: spy, logs: logs, cfg: cfg}
}

// as returns a context carrying id, as the interceptors leave it.
func as(t *testing.T, id *auth.Identity) context.Context {
	return auth.WithIdentity(t.Context(), id)
}

// statusOf is the part of an error a caller sees.
type statusOf struct {
	Code codes.Code
	Msg  string
}

func gotStatus(err error) statusOf {
	st := status.Convert(err)
	return statusOf{st.Code(), st.Message()}
}

// wantStatus fails unless err is a status with code and message.
func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if _, ok := status.FromError(err); !ok || err == nil {
		t.Fatalf("got %v (%T), want a status error", err, err)
	}
	if diff := cmp.Diff(statusOf{code, msg}, gotStatus(err)); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

// retryDelay returns the RetryInfo detail of err, or -1 without one.
func retryDelay(err error) time.Duration {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return -1
}

// audit returns every audit event, oldest first.
func (b *bench) audit(t *testing.T) []*store.AuditEvent {
	t.Helper()
	res, err := b.mem.ListAudit(context.Background(), store.ListAuditParams{PageSize: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*store.AuditEvent, 0, len(res.Events))
	for i := len(res.Events) - 1; i >= 0; i-- {
		out = append(out, res.Events[i])
	}
	return out
}

// actions lists the audit trail's actions, oldest first.
func (b *bench) actions(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, e := range b.audit(t) {
		out = append(out, e.Action)
	}
	return out
}

// leases returns every lease in the store, newest first.
func (b *bench) leases(t *testing.T) []*lease.Lease {
	t.Helper()
	res, err := b.mem.ListLeases(context.Background(), store.ListLeasesParams{PageSize: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	return res.Leases
}

func (b *bench) lease(t *testing.T, id string) *lease.Lease {
	t.Helper()
	l, err := b.mem.GetLease(context.Background(), store.GetLeaseParams{ID: id})
	if err != nil {
		t.Fatalf("lease %s: %v", id, err)
	}
	return l
}

// upstreamToken is one token the emulator has seen, by the name the
// broker gave it.
type upstreamToken struct {
	Kind   string
	Name   string
	SHA256 string
	Alive  bool
}

// tokens is the emulator's ground truth: every token ever minted on
// either API, live or not; the seeded admin credential is not one.
func (b *bench) tokens() []upstreamToken {
	var out []upstreamToken
	g := b.emu.Tokens()
	for _, a := range g.ServiceAccounts {
		for _, k := range a.Keys {
			if !k.Admin {
				out = append(out, upstreamToken{lease.UpstreamNewCentral, k.Description, k.SHA256, k.Alive})
			}
		}
	}
	for _, u := range g.LegacyUsers {
		for _, tok := range u.Tokens {
			if !tok.Admin {
				out = append(out, upstreamToken{lease.UpstreamLegacy, tok.Name, tok.SHA256, tok.Alive})
			}
		}
	}
	return out
}

// alive lists the tokens that would authenticate now.
func (b *bench) alive() []upstreamToken {
	var out []upstreamToken
	for _, tok := range b.tokens() {
		if tok.Alive {
			out = append(out, tok)
		}
	}
	return out
}

// leaked returns each place in the audit trail, the log or texts where
// secret appears.
func (b *bench) leaked(t *testing.T, secret string, texts ...string) []string {
	t.Helper()
	if secret == "" {
		t.Fatal("leaked: empty secret")
	}
	var out []string
	for _, e := range b.audit(t) {
		fields := []string{e.Action, e.ActorKind, e.ActorSubject, e.Purpose, e.LeaseID, e.Result, e.Reason, e.TokenSHA256}
		for k, v := range e.ActorClaims {
			fields = append(fields, k, v)
		}
		for _, f := range fields {
			if strings.Contains(f, secret) {
				out = append(out, "audit event "+e.Action)
			}
		}
	}
	if strings.Contains(b.logs.String(), secret) {
		out = append(out, "service log")
	}
	for i, s := range texts {
		if strings.Contains(s, secret) {
			out = append(out, fmt.Sprintf("text %d", i))
		}
	}
	return out
}

// policyDecision is an admission by a rule capped at maxTTL.
func policyDecision(maxTTL time.Duration) policy.Decision {
	return policy.Decision{Allowed: true, Rule: "r", MaxTTL: maxTTL}
}

// fmtID fills a message's %s with a lease id.
func fmtID(msg, id string) string {
	if strings.Contains(msg, "%s") {
		return fmt.Sprintf(msg, id)
	}
	return msg
}

// pending writes a pending lease for id as IssueToken does before it
// mints, as if a mint were still in flight, and returns its id.
func (b *bench) pending(t *testing.T, id *auth.Identity, purpose, idemKey string) string {
	t.Helper()
	p, ok := b.cfg.Purposes.Get(purpose)
	if !ok {
		t.Fatalf("no purpose %s", purpose)
	}
	now := b.clock.Now()
	leaseID := uuid.Must(uuid.NewV7()).String()
	if _, err := b.mem.CreatePending(context.Background(), store.CreatePendingParams{
		ID: leaseID, Purpose: purpose, Owner: id.Owner(),
		Upstream: p.Issuer.Upstream(), UpstreamKind: p.Issuer.Kind(), UpstreamAccount: p.Issuer.Account(),
		UpstreamName: lease.UpstreamNameFor(namePrefix, purpose, leaseID),
		Now:          now, ExpireTime: now.Add(p.DefaultTTL), MaxExpireTime: now.Add(p.MaxTTL),
		IdempotencyKey: idemKey,
	}); err != nil {
		t.Fatal(err)
	}
	return leaseID
}
