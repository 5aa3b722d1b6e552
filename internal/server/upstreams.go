package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
	"github.com/ztbroker/ztbroker/internal/worker/adminkey"
	"github.com/ztbroker/ztbroker/internal/worker/reconcile"
)

// upstreams is every configured upstream, any number of each kind. Each
// keeps its own state — its admin credential, clients, rate limiter, clock
// estimate, guard and rotation settings — in its own upstreamRuntime, so
// that two organisations share nothing but the process.
type upstreams struct {
	list []*upstreamRuntime
}

// upstreamRuntime is one upstream.
type upstreamRuntime struct {
	name, kind string
	cred       *upstream.AdminCredential
	// accounts maps each account the broker mints on, or guards, to its
	// client: the purposes' service accounts and the admin key's (New
	// Central), or the user (Legacy).
	accounts map[string]upstream.Issuer
	nc       *newcentral.API
	lg       *legacy.Client
	keeper   *adminkey.Upstream
	guard    reconcile.Guard
	// limiter is the upstream's rate limit, shared with the proxy's
	// forwarded calls so that they queue behind minting and revoking.
	limiter *upstream.Limiter
	// authScheme is how the admin credential is presented.
	authScheme string
	// baseURL and timeout are the API's, for the proxy's forwarding.
	baseURL string
	timeout time.Duration
	// expirySkew is added to a New Central lease's max expiry.
	expirySkew time.Duration
}

// authorization is the admin credential as a header value, read afresh
// on each call: rotation swaps it.
func (u *upstreamRuntime) authorization() (header, secret string) {
	s, _ := u.cred.Secret()
	return u.authScheme + " " + s, s
}

// byName returns the upstream called name, nil when none is.
func (us *upstreams) byName(name string) *upstreamRuntime {
	for _, u := range us.list {
		if u.name == name {
			return u
		}
	}
	return nil
}

// names lists the configured upstreams' names.
func (us *upstreams) names() []string {
	out := make([]string, 0, len(us.list))
	for _, u := range us.list {
		out = append(out, u.name)
	}
	return out
}

func newHTTPBase() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Issuance bursts would otherwise open and close connections to the
	// same host; keeping more idle ones avoids a TLS handshake per mint.
	tr.MaxIdleConnsPerHost = 64
	tr.MaxIdleConns = 128
	return &http.Client{Transport: tr}
}

type upstreamDeps struct {
	reg  prometheus.Registerer
	log  *slog.Logger
	base *http.Client
	tp   trace.TracerProvider
	now  func() time.Time
}

func buildUpstreams(ctx context.Context, cfg *config.Config, d upstreamDeps) (*upstreams, error) {
	out := &upstreams{}
	for _, cu := range cfg.Upstreams {
		var u *upstreamRuntime
		var err error
		switch {
		case cu.NewCentral != nil:
			u, err = buildNewCentral(cfg, cu, d)
		case cu.Legacy != nil:
			u, err = buildLegacy(ctx, cfg, cu, d)
		default:
			err = fmt.Errorf("upstream %s: unknown kind %q", cu.Name, cu.Kind)
		}
		if err != nil {
			return nil, err
		}
		out.list = append(out.list, u)
	}
	return out, nil
}

// buildNewCentral makes one API for the upstream — one limiter (ZeroTier's
// rate limit applies to the organisation), one credential, one clock
// estimate — and a client per service account on it.
func buildNewCentral(cfg *config.Config, cu config.Upstream, d upstreamDeps) (*upstreamRuntime, error) {
	nc, name := cu.NewCentral, cu.Name
	u := &upstreamRuntime{name: name, kind: lease.UpstreamNewCentral, accounts: map[string]upstream.Issuer{},
		cred: upstream.NewAdminCredential(nc.AdminKey.Reveal()), limiter: upstream.NewLimiter(nc.RateLimit, 0, nil),
		authScheme: "Bearer", baseURL: nc.BaseURL, timeout: nc.Timeout, expirySkew: nc.ExpirySkew}
	skew := upstream.NewClockSkew(d.now)
	api, err := newcentral.NewAPI(newcentral.Config{
		Name:                  name,
		BaseURL:               nc.BaseURL,
		HTTPClient:            d.base,
		Credential:            u.cred,
		CreateKeyPath:         nc.Paths.CreateKey,
		DeleteKeyPath:         nc.Paths.DeleteKey,
		GetServiceAccountPath: nc.Paths.GetServiceAccount,
		MaxResponseBytes:      nc.MaxResponseBytes,
		Skew:                  skew,
		Now:                   d.now,
		Upstream: upstream.Options{
			Name: name, Limiter: u.limiter, Timeout: nc.Timeout,
			Registerer: d.reg, Logger: d.log, TracerProvider: d.tp,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", name, err)
	}
	u.nc = api
	var purposeAccounts []string
	for _, p := range cfg.Purposes {
		if p.Upstream.Name == name && !slices.Contains(purposeAccounts, p.Upstream.ServiceAccountID) {
			purposeAccounts = append(purposeAccounts, p.Upstream.ServiceAccountID)
		}
	}
	if nc.ServiceAccountID != "" && !slices.Contains(purposeAccounts, nc.ServiceAccountID) {
		// Guarded (and its leases revocable) even while no purpose uses it.
		purposeAccounts = append(purposeAccounts, nc.ServiceAccountID)
	}
	search := purposeAccounts
	if nc.AdminServiceAccountID != "" {
		search = []string{nc.AdminServiceAccountID}
	}
	for _, sa := range append(slices.Clone(purposeAccounts), search...) {
		u.accounts[sa] = api.Issuer(sa)
	}
	prefix := cfg.Tokens.NamePrefix
	u.keeper = &adminkey.Upstream{
		Name: name, Kind: u.kind, Credential: u.cred, SecretFile: nc.AdminKeyFile, API: api,
		Inspect: func(ctx context.Context, previous string) (upstream.AdminInfo, error) {
			return api.InspectAdmin(ctx, newcentral.AdminCheck{KeyID: nc.AdminKeyID, Accounts: search, Owned: ownedBy(prefix), Previous: previous})
		},
		Check:         api.CheckSecret,
		ExpiryWarning: nc.ExpiryWarning,
		ExpiryMinimum: nc.ExpiryMinimum,
		Poll:          nc.CredentialPollInterval,
	}
	if r := nc.Rotate; r != nil {
		u.keeper.Rotate = &adminkey.Rotate{Before: r.Before, Lifetime: r.Lifetime, Grace: r.Grace}
	}
	u.guard = reconcile.Guard{Upstream: name, Kind: u.kind, Accounts: mapKeys(u.accounts), ForeignKeys: nc.ForeignKeys,
		Disabled: unknownAdmin(u.cred, "the admin key's id is unknown: set "+cu.Path+".admin_key_id")}
	if nc.OrgWatch {
		u.guard.ServiceAccounts = orgWatch(api, nc.OrgID)
	}
	return u, nil
}

func buildLegacy(ctx context.Context, cfg *config.Config, cu config.Upstream, d upstreamDeps) (*upstreamRuntime, error) {
	lg, name := cu.Legacy, cu.Name
	scheme := legacy.SchemeToken
	if lg.AuthScheme == legacy.SchemeBearer {
		scheme = legacy.SchemeBearer
	}
	u := &upstreamRuntime{name: name, kind: lease.UpstreamLegacy, accounts: map[string]upstream.Issuer{},
		cred: upstream.NewAdminCredential(lg.Token.Reveal()), limiter: upstream.NewLimiter(lg.RateLimit, 0, nil),
		authScheme: scheme, baseURL: lg.BaseURL, timeout: lg.Timeout}
	c, err := legacy.New(legacy.Config{
		Name:             name,
		BaseURL:          lg.BaseURL,
		HTTPClient:       d.base,
		Credential:       u.cred,
		AdminScheme:      lg.AuthScheme,
		UserID:           lg.UserID,
		StatusPath:       lg.Paths.Status,
		UserPath:         lg.Paths.User,
		CreateTokenPath:  lg.Paths.CreateToken,
		DeleteTokenPath:  lg.Paths.DeleteToken,
		MaxResponseBytes: lg.MaxResponseBytes,
		Now:              d.now,
		Upstream: upstream.Options{
			Name: name, Limiter: u.limiter, Timeout: lg.Timeout,
			Registerer: d.reg, Logger: d.log, TracerProvider: d.tp,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", name, err)
	}
	if c.Account() == "" {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		id, err := c.DiscoverUserID(dctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("upstream %s: discover user id (set %s.user_id to skip): %w", name, cu.Path, err)
		}
		d.log.Info("legacy user discovered", "upstream", name, "user_id", id)
	}
	u.lg = c
	u.accounts[c.Account()] = c
	prefix := cfg.Tokens.NamePrefix
	u.keeper = &adminkey.Upstream{
		Name: name, Kind: u.kind, Credential: u.cred, SecretFile: lg.TokenFile,
		Inspect: func(ctx context.Context, previous string) (upstream.AdminInfo, error) {
			info, err := c.InspectAdmin(ctx, legacy.AdminCheck{TokenName: lg.AdminTokenName, Owned: ownedBy(prefix), Previous: previous})
			if errors.Is(err, legacy.ErrAdminTokenUnknown) {
				err = fmt.Errorf("%w: %w", adminkey.ErrKeyUnknown, err)
			}
			return info, err
		},
		Check: c.CheckSecret,
		Poll:  adminkey.DefaultPoll,
	}
	u.guard = reconcile.Guard{Upstream: name, Kind: u.kind, Accounts: []string{c.Account()}, ForeignKeys: lg.ForeignKeys,
		Disabled: unknownAdmin(u.cred, "the admin token's name is unknown: set "+cu.Path+".admin_token_name")}
	return u, nil
}

// ownedBy reports the names that are the broker's own: a lease's token, or
// a rotated admin key.
func ownedBy(prefix string) func(string) bool {
	return func(name string) bool {
		if _, _, ok := lease.ParseUpstreamName(prefix, name); ok {
			return true
		}
		_, ok := upstream.ParseAdminKeyDescription(prefix, name)
		return ok
	}
}

// orgWatch lists the organisation's service accounts, finding the
// organisation from the admin key when orgID is empty.
func orgWatch(api *newcentral.API, orgID string) func(context.Context) ([]upstream.Principal, error) {
	return func(ctx context.Context) ([]upstream.Principal, error) {
		org := orgID
		if org == "" {
			orgs, err := api.Orgs(ctx, "org_watch")
			if err != nil {
				return nil, err
			}
			if len(orgs) != 1 {
				return nil, fmt.Errorf("the admin key reaches %d organisations; set org_id", len(orgs))
			}
			org = orgs[0]
		}
		sas, err := api.ServiceAccounts(ctx, "org_watch", org)
		if err != nil {
			return nil, err
		}
		out := make([]upstream.Principal, 0, len(sas))
		for _, sa := range sas {
			out = append(out, upstream.Principal{ID: sa.ID, Name: sa.Name, Created: sa.Created})
		}
		return out, nil
	}
}

// unknownAdmin suspends the foreign check while the admin credential's own
// key is unknown: it would be reported, or deleted, as foreign.
func unknownAdmin(cred *upstream.AdminCredential, why string) func() string {
	return func() string {
		if cred.Info().KeyID == "" {
			return why
		}
		return ""
	}
}

func mapKeys(m map[string]upstream.Issuer) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// forPurpose finds the upstream and the client a purpose mints with.
func (us *upstreams) forPurpose(p config.Purpose) (*upstreamRuntime, upstream.Issuer, error) {
	u := us.byName(p.Upstream.Name)
	if u == nil {
		return nil, nil, fmt.Errorf("purpose %q: upstream %q is not configured", p.Name, p.Upstream.Name)
	}
	switch u.kind {
	case lease.UpstreamNewCentral:
		if is := u.accounts[p.Upstream.ServiceAccountID]; is != nil {
			return u, is, nil
		}
	case lease.UpstreamLegacy:
		return u, u.lg, nil
	}
	return nil, nil, fmt.Errorf("purpose %q: upstream %s has no client for account %q", p.Name, u.name, p.Upstream.ServiceAccountID)
}

// issuers is every client, for revocation and reconciliation.
func (us *upstreams) issuers() []upstream.Issuer {
	var out []upstream.Issuer
	for _, u := range us.list {
		for _, a := range mapKeys(u.accounts) {
			out = append(out, u.accounts[a])
		}
	}
	return out
}

func (us *upstreams) keeperUpstreams() []*adminkey.Upstream {
	out := make([]*adminkey.Upstream, 0, len(us.list))
	for _, u := range us.list {
		out = append(out, u.keeper)
	}
	return out
}

func (us *upstreams) guards() []reconcile.Guard {
	out := make([]reconcile.Guard, 0, len(us.list))
	for _, u := range us.list {
		out = append(out, u.guard)
	}
	return out
}
