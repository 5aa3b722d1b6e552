package oidcauth

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Problem is one thing wrong with a Config. Field names the config file's
// key under auth.oidc (or under the issuer), so the caller can report it
// where the operator wrote it.
type Problem struct {
	// Issuer indexes Config.Issuers, or is -1 for Config's own fields.
	Issuer int
	// Field is a key such as "clock_skew", "issuer_url" or "signing_algs[2]".
	Field string
	Msg   string
}

func (p Problem) String() string {
	if p.Issuer < 0 {
		return p.Field + ": " + p.Msg
	}
	return fmt.Sprintf("issuers[%d].%s: %s", p.Issuer, p.Field, p.Msg)
}

var (
	// issuerName keeps subjects ("oidc:<name>/<sub>") unambiguous.
	issuerName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	claimName  = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,128}$`)
)

// Check reports every problem with c's settings. It is the one statement of
// what makes an issuer usable, shared by New and by the broker's config
// loading; it makes no network calls and reads no files.
func Check(c Config) []Problem {
	var ps []Problem
	add := func(i int, field, format string, args ...any) {
		ps = append(ps, Problem{Issuer: i, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.ClockSkew < 0 || c.ClockSkew > MaxClockSkew {
		add(-1, "clock_skew", "must be between 0 and %s, got %s", MaxClockSkew, c.ClockSkew)
	}
	if c.MaxTokenLifetime < 0 || c.MaxTokenLifetime > 30*24*time.Hour {
		add(-1, "max_token_lifetime", "must be between 0 (the default, 24h) and 720h, got %s", c.MaxTokenLifetime)
	}
	if len(c.Issuers) == 0 {
		add(-1, "issuers", "must list at least one issuer")
	}
	names, urls := map[string]bool{}, map[string]bool{}
	for i, is := range c.Issuers {
		p, known := presetFor(is.Preset)
		if !known {
			add(i, "preset", "must be github, gitlab, kubernetes or empty, got %q", is.Preset)
		}
		name := cmp.Or(is.Name, is.Preset)
		switch {
		case name == "":
			add(i, "name", "is required for issuers without a preset")
		case !issuerName.MatchString(name):
			add(i, "name", "must be 1-63 of [a-z0-9-], got %q", name)
		case names[name]:
			add(i, "name", "duplicate issuer name %q", name)
		}
		names[name] = true
		issuerURL := cmp.Or(is.IssuerURL, p.issuerURL)
		switch {
		case issuerURL == "" && known:
			add(i, "issuer_url", "is required for %s issuers", cmp.Or(is.Preset, "generic"))
		case issuerURL != "" && !isHTTPS(issuerURL):
			add(i, "issuer_url", "must be an https URL, got %q", issuerURL)
		case issuerURL != "" && urls[issuerURL]:
			add(i, "issuer_url", "duplicate issuer URL %q", issuerURL)
		}
		urls[issuerURL] = true
		if is.JWKSURL != "" && !isHTTPS(is.JWKSURL) {
			add(i, "jwks_url", "must be an https URL, got %q", is.JWKSURL)
		}
		if is.Audience == "" && c.Audience == "" {
			add(i, "audience", "is required when auth.oidc.audience is not set")
		}
		for j, alg := range is.SigningAlgs {
			if !slices.Contains(allowedAlgs, alg) {
				add(i, fmt.Sprintf("signing_algs[%d]", j), "must be one of %s, got %q", strings.Join(allowedAlgs, ", "), alg)
			}
		}
		for j, claim := range is.ClaimsToKeep {
			if !claimName.MatchString(claim) {
				add(i, fmt.Sprintf("claims_to_keep[%d]", j), "must be a claim name, got %q", claim)
			}
		}
		seen := map[string]bool{}
		for j, claim := range is.OwnerClaims {
			switch {
			case !claimName.MatchString(claim):
				add(i, fmt.Sprintf("owner_claims[%d]", j), "must be a claim name, got %q", claim)
			case seen[claim]:
				add(i, fmt.Sprintf("owner_claims[%d]", j), "duplicate claim %q", claim)
			}
			seen[claim] = true
		}
	}
	return ps
}

// isHTTPS refuses anything but https: keys fetched in the clear could be
// swapped by anyone on the path.
func isHTTPS(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "https" && u.Host != ""
}
