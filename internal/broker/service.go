package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/proxycred"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Revoker finishes revocations. The revocation worker implements it.
type Revoker interface {
	// RevokeActive ends l, active when read, in one write once its
	// upstream delete has succeeded; p carries the request (ID, Owner,
	// Reason, RevokedBy, Now, Audit). An error means it wrote nothing and
	// the caller must take the durable path: BeginRevoke, then RevokeNow.
	RevokeActive(ctx context.Context, l *lease.Lease, p store.RevokeActiveParams) (*lease.Lease, error)
	// RevokeNow deletes the upstream token of a lease already moved to
	// revoking and marks it revoked, or schedules a retry on failure. It
	// returns the lease as it last wrote it, or nil if it wrote nothing.
	RevokeNow(ctx context.Context, l *lease.Lease) (*lease.Lease, error)
	// Nudge tells the worker a lease now expires at due.
	Nudge(due time.Time)
}

// Sealer encrypts secrets kept for idempotent replay.
type Sealer interface {
	Seal(plaintext []byte, aad string) ([]byte, error)
	Open(sealed []byte, aad string) ([]byte, error)
}

// Config holds the service's dependencies. Every field but Sealer is
// required.
type Config struct {
	Store    store.Store
	Purposes *Purposes
	Revoker  Revoker
	Logger   *slog.Logger
	Metrics  *Metrics
	// Now defaults to time.Now.
	Now func() time.Time
	// NamePrefix starts every upstream token name.
	NamePrefix string
	// ExpirySkew is added to a lease's max expire time to get the New
	// Central key's own expiry, so the upstream backstop never cuts a
	// valid lease short.
	ExpirySkew time.Duration
	// ClaimTimeout is how long an explicit revoke keeps the lease away
	// from the workers before they may retry it.
	ClaimTimeout time.Duration
	// MintTimeout bounds the mint-and-activate sequence, which runs
	// detached from the caller's cancellation so that a disconnect cannot
	// leave a token without a lease.
	MintTimeout time.Duration
	// Sealer and ReplayWindow enable replaying a secret to a retried
	// IssueToken with the same idempotency key.
	Sealer       Sealer
	ReplayWindow time.Duration
	// MaxAuditClaimBytes cuts each kept claim in the audit trail and its
	// log line to this many bytes, with a marker; defaults to
	// DefaultMaxAuditClaimBytes.
	MaxAuditClaimBytes int
	// Refusals, when set, turns away callers refused too often and bounds
	// the refusal events each owner adds to the audit trail.
	Refusals Refusals
	// NewCredential makes a proxy lease's broker credential; defaults to
	// proxycred.New from crypto/rand.
	NewCredential func() (string, error)
	// Rotator, when set, serves RotateUpstreamKey; Credentials, when set,
	// ListUpstreams.
	Rotator     Rotator
	Credentials func() []CredentialStatus
}

// Refusals bounds what refused callers cost; *refusal.Limiter is one.
type Refusals interface {
	// Admit reports whether a request of owner from addr may go on, or
	// how long to wait; actor describes a caller turned away.
	Admit(owner, addr string, actor func() *store.AuditEvent) (time.Duration, bool)
	// Refused counts a refusal and reports whether its event may be
	// recorded.
	Refused(owner, addr string, ev *store.AuditEvent) bool
}

// DefaultMaxAuditClaimBytes is Config.MaxAuditClaimBytes's default: real
// claims (a repository, a ref, a workflow path) fit well within it.
const DefaultMaxAuditClaimBytes = 256

// Service implements ztbrokerv1.TokenBrokerServer and AdminServiceServer.
type Service struct {
	ztbrokerv1.UnimplementedTokenBrokerServer
	ztbrokerv1.UnimplementedAdminServiceServer

	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	recent *recentLeases
}

var (
	_ ztbrokerv1.TokenBrokerServer  = (*Service)(nil)
	_ ztbrokerv1.AdminServiceServer = (*Service)(nil)
)

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("broker: Store is required")
	case cfg.Purposes == nil:
		return nil, errors.New("broker: Purposes is required")
	case cfg.Revoker == nil:
		return nil, errors.New("broker: Revoker is required")
	case cfg.Logger == nil:
		return nil, errors.New("broker: Logger is required")
	case cfg.Metrics == nil:
		return nil, errors.New("broker: Metrics is required")
	case cfg.NamePrefix == "":
		return nil, errors.New("broker: NamePrefix is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = time.Minute
	}
	if cfg.MintTimeout <= 0 {
		cfg.MintTimeout = 30 * time.Second
	}
	if cfg.MaxAuditClaimBytes <= 0 {
		cfg.MaxAuditClaimBytes = DefaultMaxAuditClaimBytes
	}
	if cfg.NewCredential == nil {
		cfg.NewCredential = func() (string, error) { return proxycred.New(nil) }
	}
	if cfg.Sealer != nil && cfg.ReplayWindow <= 0 {
		cfg.ReplayWindow = 10 * time.Minute
	}
	return &Service{cfg: cfg, log: cfg.Logger, now: cfg.Now, recent: newRecentLeases(recentCapacity)}, nil
}

// caller returns the authenticated identity. The interceptor or the HTTP
// middleware always sets one; its absence means a wiring bug, which must
// still fail closed.
func caller(ctx context.Context) (*auth.Identity, error) {
	id := auth.FromContext(ctx)
	if id == nil {
		return nil, errs.Unauthenticated
	}
	return id, nil
}

// ownerScope is the owner filter for reads and changes: admins see every
// lease, everyone else only their own.
func ownerScope(id *auth.Identity) string {
	if id.Admin {
		return ""
	}
	return id.Owner()
}

func (s *Service) issuerOf(l *lease.Lease) (upstream.Issuer, error) {
	p, ok := s.cfg.Purposes.Get(l.Purpose)
	if ok && p.Issuer.Upstream() == l.Upstream && p.Issuer.Account() == l.UpstreamAccount {
		return p.Issuer, nil
	}
	if is, ok := s.cfg.Purposes.Registry().Issuer(l.Upstream, l.UpstreamAccount); ok {
		return is, nil
	}
	return nil, fmt.Errorf("no issuer for upstream %s account %q: %w", l.Upstream, l.UpstreamAccount, errs.Unavailable)
}
