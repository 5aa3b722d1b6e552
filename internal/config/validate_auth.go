package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/policy"
)

// signingAlgs are the JWS algorithms an issuer may be configured with.
// "none" and the HMAC family are absent on purpose: an HMAC key would be a
// shared secret, and none is no signature at all.
var signingAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

var claimName = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,128}$`)

func (v *validator) auth() {
	a := &v.c.Auth
	v.apiKeys()
	for i, o := range a.Admins {
		path := fmt.Sprintf("auth.admins[%d]", i)
		if err := policy.CheckOwner(o); err != nil {
			v.add(path, "%v", err)
			continue
		}
		v.ownerKnown(path, o)
	}
	if a.OIDC != nil {
		v.oidc()
	}
	if a.MTLS.Enabled {
		t := v.c.Listen.TLS
		if t == nil || t.ClientAuth == ClientAuthNone || t.ClientAuth == "" {
			v.add("auth.mtls.enabled", "needs listen.tls with client_auth request or require")
		}
	}
	if len(a.APIKeys) == 0 && a.OIDC == nil && !a.MTLS.Enabled {
		v.add("auth", "no authentication method configured: set api_keys, oidc or mtls")
	}
}

func (v *validator) apiKeys() {
	names := map[string]bool{}
	hashes := map[string]string{}
	for i := range v.c.Auth.APIKeys {
		k := &v.c.Auth.APIKeys[i]
		path := fmt.Sprintf("auth.api_keys[%d]", i)
		switch {
		case !keyName.MatchString(k.Name):
			v.add(path+".name", "must be 1-63 of [a-z0-9_.-], got %q", k.Name)
		case names[k.Name]:
			v.add(path+".name", "duplicate api key name %q", k.Name)
		}
		names[k.Name] = true
		switch {
		case k.SHA256 != "" && k.KeyEnv != "":
			v.add(path, "set sha256 or key_env, not both")
		case k.SHA256 != "":
			b, err := hex.DecodeString(k.SHA256)
			if err != nil || len(b) != sha256.Size {
				v.add(path+".sha256", "must be %d hex characters", 2*sha256.Size)
				continue
			}
			k.Hash = hex.EncodeToString(b)
		case k.KeyEnv != "":
			s := v.env(path+".key_env", k.KeyEnv)
			if s.IsSet() {
				sum := sha256.Sum256(s.Bytes())
				k.Hash = hex.EncodeToString(sum[:])
			}
		default:
			v.add(path+".sha256", "is required (or key_env)")
		}
		if k.Hash == "" {
			continue
		}
		if other, dup := hashes[k.Hash]; dup {
			v.add(path, "has the same key as %q", other)
		}
		hashes[k.Hash] = k.Name
	}
}

// ownerKnown catches owners that can never match: an API key that is not
// configured, or a kind of authentication that is switched off.
func (v *validator) ownerKnown(path, owner string) {
	kind, subject, _ := strings.Cut(owner, ":")
	a := &v.c.Auth
	switch kind {
	case auth.KindAPIKey:
		if !slices.ContainsFunc(a.APIKeys, func(k APIKey) bool { return k.Name == subject }) {
			v.add(path, "api key %q is not configured in auth.api_keys", subject)
		}
	case auth.KindMTLS:
		if !a.MTLS.Enabled {
			v.add(path, "names an mtls identity but auth.mtls is not enabled")
		}
	case auth.KindOIDC:
		if a.OIDC == nil {
			v.add(path, "names an oidc identity but auth.oidc is not configured")
			return
		}
		issuer, _, ok := strings.Cut(subject, "/")
		if !ok || !slices.ContainsFunc(a.OIDC.Issuers, func(i OIDCIssuer) bool { return i.Name == issuer }) {
			v.add(path, `oidc subjects are "oidc:<issuer name>/<sub>"; no issuer is named %q`, issuer)
		}
	}
}

func (v *validator) oidc() {
	o := v.c.Auth.OIDC
	if o.ClockSkew < 0 || o.ClockSkew > MaxClockSkew {
		v.add("auth.oidc.clock_skew", "must be between 0 and %s, got %s", MaxClockSkew, o.ClockSkew)
	}
	if len(o.Issuers) == 0 {
		v.add("auth.oidc.issuers", "must list at least one issuer")
	}
	names := map[string]bool{}
	for i := range o.Issuers {
		is := &o.Issuers[i]
		path := fmt.Sprintf("auth.oidc.issuers[%d]", i)
		switch is.Preset {
		case PresetGitHub, PresetGitLab:
		case PresetKubernetes, "":
			if is.IssuerURL == "" {
				v.add(path+".issuer_url", "is required for %s issuers", presetLabel(is.Preset))
			}
		default:
			v.add(path+".preset", "must be github, gitlab, kubernetes or empty, got %q", is.Preset)
		}
		switch {
		case is.Name == "":
			v.add(path+".name", "is required for issuers without a preset")
		case !namePattern.MatchString(is.Name):
			v.add(path+".name", "must be 1-63 of [a-z0-9-], got %q", is.Name)
		case names[is.Name]:
			v.add(path+".name", "duplicate issuer name %q", is.Name)
		}
		names[is.Name] = true
		if is.IssuerURL != "" {
			v.httpsURL(path+".issuer_url", is.IssuerURL)
		}
		if is.JWKSURL != "" {
			v.httpsURL(path+".jwks_url", is.JWKSURL)
		}
		if is.Audience == "" && o.Audience == "" {
			v.add(path+".audience", "is required when auth.oidc.audience is not set")
		}
		for j, alg := range is.SigningAlgs {
			if !slices.Contains(signingAlgs, alg) {
				v.add(fmt.Sprintf("%s.signing_algs[%d]", path, j), "must be one of %s, got %q", strings.Join(signingAlgs, ", "), alg)
			}
		}
		for j, c := range is.ClaimsToKeep {
			if !claimName.MatchString(c) {
				v.add(fmt.Sprintf("%s.claims_to_keep[%d]", path, j), "must be a claim name, got %q", c)
			}
		}
		v.resolvePath(&is.CAFile)
	}
}

func presetLabel(p string) string {
	if p == "" {
		return "generic"
	}
	return p
}

// httpsURL checks an issuer or key URL. Token signing keys fetched over
// plain http could be swapped by anyone on the path.
func (v *validator) httpsURL(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		v.add(path, "must be an https URL, got %q", raw)
	}
}
