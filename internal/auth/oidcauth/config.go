package oidcauth

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"time"
)

// Defaults for Config.
const (
	DefaultClockSkew          = 60 * time.Second
	MaxClockSkew              = 5 * time.Minute
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultFetchTimeout       = 10 * time.Second
	// DefaultMaxTokenLifetime is the longest-lived token accepted. CI
	// tokens live minutes (GitHub's about five, GitLab's five by
	// default), Kubernetes projected tokens an hour by default.
	DefaultMaxTokenLifetime = 24 * time.Hour
)

// allowedAlgs are the asymmetric JWS algorithms an issuer may use.
var allowedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Issuer is one trusted token issuer. Field meanings match the config
// file's auth.oidc.issuers entries.
type Issuer struct {
	// Name qualifies subjects; defaults to Preset.
	Name string
	// Preset is PresetGitHub, PresetGitLab, PresetKubernetes or "".
	Preset string
	// IssuerURL overrides the preset's; it must equal the tokens' iss.
	IssuerURL string
	// Audience overrides Config.Audience.
	Audience string
	// ClaimsToKeep adds to the preset's kept claims.
	ClaimsToKeep []string
	// OwnerClaims replaces the preset's owner claims: the claims whose
	// values together own the caller's leases and scope its idempotency
	// keys. They are always kept.
	OwnerClaims []string
	// SigningAlgs replaces the preset's algorithms.
	SigningAlgs []string
	// JWKSURL skips discovery.
	JWKSURL string
	// CAFile, when set, is the only trust root for this issuer's HTTPS.
	CAFile string
}

// Config configures an Authenticator.
type Config struct {
	Issuers []Issuer
	// Audience every token must carry unless its issuer overrides it.
	Audience string
	// ClockSkew tolerated on exp, nbf and iat; defaults to 60s.
	ClockSkew time.Duration
	// MaxTokenLifetime refuses tokens that expire further than this in
	// the future, or whose exp is further than this after their iat;
	// defaults to 24h. A token valid for years is a credential nobody
	// can take back.
	MaxTokenLifetime time.Duration
	// HTTPClient fetches discovery documents and keys; nil means a
	// private client. Issuers with a CAFile get a copy trusting only it.
	HTTPClient *http.Client
	// FetchTimeout bounds each discovery or JWKS fetch; defaults to 10s.
	FetchTimeout time.Duration
	// MinRefreshInterval is the least time between two key fetches (or
	// discovery attempts) for one issuer; defaults to 30s.
	MinRefreshInterval time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger receives key refresh notices; nil discards them.
	Logger *slog.Logger
}

func (c *Config) complete() {
	if c.ClockSkew == 0 {
		c.ClockSkew = DefaultClockSkew
	}
	if c.MaxTokenLifetime <= 0 {
		c.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.MinRefreshInterval <= 0 {
		c.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
}

// resolved is an Issuer with its preset applied.
type resolved struct {
	name, url, audience, jwksURL string
	algs, claims, owners         []string
	client                       *http.Client
}

// resolve applies is's preset. Check has already vetted the result.
func (c *Config) resolve(is Issuer) (resolved, error) {
	p, _ := presetFor(is.Preset)
	r := resolved{
		name:     cmp.Or(is.Name, is.Preset),
		url:      cmp.Or(is.IssuerURL, p.issuerURL),
		audience: cmp.Or(is.Audience, c.Audience),
		jwksURL:  is.JWKSURL,
		algs:     p.algs,
		owners:   p.owners,
		client:   c.HTTPClient,
	}
	if len(is.OwnerClaims) > 0 {
		r.owners = is.OwnerClaims
	}
	// Owner claims are kept too, so the audit trail shows what owned a
	// lease.
	r.claims = slices.Compact(slices.Sorted(slices.Values(slices.Concat(p.claims, is.ClaimsToKeep, r.owners))))
	if len(is.SigningAlgs) > 0 {
		r.algs = is.SigningAlgs
	}
	if is.CAFile != "" {
		client, err := clientWithCA(c.HTTPClient, is.CAFile)
		if err != nil {
			return r, fmt.Errorf("issuer %q: %w", r.name, err)
		}
		r.client = client
	}
	return r, nil
}

// clientWithCA copies base with a transport that trusts only the CA file.
func clientWithCA(base *http.Client, caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates", caFile)
	}
	tr, ok := base.Transport.(*http.Transport)
	if !ok || tr == nil {
		tr = http.DefaultTransport.(*http.Transport)
	}
	tr = tr.Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c := *base
	c.Transport = tr
	return &c, nil
}
