package proxy

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/proxycred"
	"github.com/ztbroker/ztbroker/internal/store"
)

// credential takes the broker credential from the Authorization header,
// under either scheme a ZeroTier SDK sends ("Bearer" for New Central,
// "token" or "bearer" for Legacy), matched case-insensitively.
func credential(r *http.Request) string {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !(strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "token")) {
		return ""
	}
	return strings.TrimSpace(secret)
}

// authenticate returns the active lease the request's credential belongs
// to, or the status and message to refuse it with. The lease is read
// fresh for every call: PostgreSQL is the one truth all replicas share, so
// a revoke or an expiry anywhere is seen here at once.
func (p *Proxy) authenticate(ctx context.Context, r *http.Request, pp *Purpose) (*store.ProxyLease, int, string) {
	cred := credential(r)
	if !proxycred.WellFormed(cred) {
		return nil, http.StatusUnauthorized, msgBadCredential
	}
	l, err := p.cfg.Store.GetProxyLease(ctx, store.GetProxyLeaseParams{CredentialSHA256: lease.HashToken(cred)})
	switch {
	case errors.Is(err, errs.NotFound):
		return nil, http.StatusUnauthorized, msgBadCredential
	case err != nil:
		p.log.ErrorContext(ctx, "proxy: reading the lease of a credential failed", "purpose", pp.Name, "err", err)
		return nil, http.StatusServiceUnavailable, msgStoreDown
	case l.Purpose != pp.Name:
		// A credential works for its own purpose's path only.
		return nil, http.StatusUnauthorized, msgBadCredential
	case l.State != lease.StateActive || !l.ExpireTime.After(p.now()):
		return nil, http.StatusUnauthorized, msgLeaseEnded
	}
	return l, 0, ""
}
