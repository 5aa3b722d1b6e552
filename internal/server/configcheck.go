package server

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/auth/oidcauth"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/policy"
	"github.com/ztbroker/ztbroker/internal/seal"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

// LoadConfig reads a configuration file and judges it by the domain's
// rules as well as the file's own, reporting every problem at once.
func LoadConfig(path string, o config.Options) (*config.Config, error) {
	o.Checks = append(slices.Clone(o.Checks), ConfigChecks()...)
	return config.LoadWith(path, o)
}

// ParseConfig is LoadConfig for a document already in memory.
func ParseConfig(name string, data []byte, o config.Options) (*config.Config, error) {
	o.Checks = append(slices.Clone(o.Checks), ConfigChecks()...)
	return config.ParseWith(name, data, o)
}

// ConfigChecks are the rules the config package leaves to the packages
// that own them: identity formats, OIDC issuers, policy expressions, the
// seal key's encoding, and secrets in the database URL (pgx's parser).
func ConfigChecks() []config.Check {
	return []config.Check{checkOwners, checkOIDC, checkPolicies, checkScopes, checkSealKey, checkDatabaseURL, defaultUpstreamPaths}
}

func checkOwners(c *config.Config, report config.Report) {
	for i, o := range c.Auth.Admins {
		path := fmt.Sprintf("auth.admins[%d]", i)
		if err := policy.CheckOwner(o); err != nil {
			report(path, "%v", err)
			continue
		}
		ownerKnown(c, path, o, report)
	}
	for i, p := range c.Purposes {
		for j, s := range p.Allow.Subjects {
			// A malformed subject is the policy compiler's to report.
			if policy.CheckOwner(s) == nil {
				ownerKnown(c, fmt.Sprintf("purposes[%d].allow.subjects[%d]", i, j), s, report)
			}
		}
	}
}

// ownerKnown catches owners that can never match: an API key that is not
// configured, or a kind of authentication that is switched off.
func ownerKnown(c *config.Config, path, owner string, report config.Report) {
	kind, subject, _ := strings.Cut(owner, ":")
	a := &c.Auth
	switch kind {
	case auth.KindAPIKey:
		if !slices.ContainsFunc(a.APIKeys, func(k config.APIKey) bool { return k.Name == subject }) {
			report(path, "api key %q is not configured in auth.api_keys", subject)
		}
	case auth.KindMTLS:
		if !a.MTLS.Enabled {
			report(path, "names an mtls identity but auth.mtls is not enabled")
		}
	case auth.KindOIDC:
		if a.OIDC == nil {
			report(path, "names an oidc identity but auth.oidc is not configured")
			return
		}
		issuer, _, ok := strings.Cut(subject, "/")
		if !ok || !slices.ContainsFunc(a.OIDC.Issuers, func(i config.OIDCIssuer) bool { return i.Name == issuer }) {
			report(path, `oidc subjects are "oidc:<issuer name>/<sub>"; no issuer is named %q`, issuer)
		}
	}
}

func checkOIDC(c *config.Config, report config.Report) {
	if c.Auth.OIDC == nil {
		return
	}
	for _, p := range oidcauth.Check(oidcConfig(c.Auth.OIDC, authOptions{})) {
		path := "auth.oidc." + p.Field
		if p.Issuer >= 0 {
			path = fmt.Sprintf("auth.oidc.issuers[%d].%s", p.Issuer, p.Field)
		}
		report(path, "%s", p.Msg)
	}
}

func checkPolicies(c *config.Config, report config.Report) {
	for i, p := range c.Purposes {
		if len(p.Allow.APIKeys)+len(p.Allow.Subjects)+len(p.Allow.Rules) == 0 {
			continue // the config package reports that it admits no one
		}
		if _, err := policy.Compile(p.Name, policySpec(p.Allow)); err != nil {
			compileErrors(fmt.Sprintf("purposes[%d].allow", i), err, report)
		}
	}
}

// compileErrors reports each of policy's errors at the entry it is about.
func compileErrors(path string, err error, report config.Report) {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var ce *policy.CompileError
		if !errors.As(e, &ce) {
			report(path, "%v", e)
			continue
		}
		at := fmt.Sprintf("%s.%s[%d]", path, ce.Section, ce.Index)
		if ce.Field == "" {
			report(at, "%s", ce.Msg)
			continue
		}
		report(at+"."+ce.Field, "rule %q of purpose %q: %s", ce.Rule, ce.Purpose, ce.Msg)
	}
}

func checkSealKey(c *config.Config, report config.Report) {
	if i := c.Idempotency; i.SealKey.IsSet() {
		if _, err := seal.ParseKey(i.SealKey.Reveal()); err != nil {
			report(i.SealKeyPath, "%v", err)
		}
	}
}

// defaultUpstreamPaths writes the clients' own default paths into the
// paths the file left empty, so that the configuration logged at start-up
// and printed by `broker config check` shows the paths in use rather than
// blanks. The defaults belong to the clients; the config package cannot
// import them.
func defaultUpstreamPaths(c *config.Config, _ config.Report) {
	for i := range c.Upstreams {
		if nc := c.Upstreams[i].NewCentral; nc != nil {
			p := &nc.Paths
			p.CreateKey = cmp.Or(p.CreateKey, newcentral.DefaultCreateKeyPath)
			p.DeleteKey = cmp.Or(p.DeleteKey, newcentral.DefaultDeleteKeyPath)
			p.GetServiceAccount = cmp.Or(p.GetServiceAccount, newcentral.DefaultGetServiceAccountPath)
		}
		if lg := c.Upstreams[i].Legacy; lg != nil {
			p := &lg.Paths
			p.Status = cmp.Or(p.Status, legacy.DefaultStatusPath)
			p.User = cmp.Or(p.User, legacy.DefaultUserPath)
			p.CreateToken = cmp.Or(p.CreateToken, legacy.DefaultCreateTokenPath)
			p.DeleteToken = cmp.Or(p.DeleteToken, legacy.DefaultDeleteTokenPath)
		}
	}
}
