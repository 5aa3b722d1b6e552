package config

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

var placeholder = regexp.MustCompile(`\{[^}]*\}`)

// upstreamName is an upstream's name: it appears in metrics, audit events
// and lease rows. Underscores are allowed for the names the older
// configuration form gives (new_central).
var upstreamName = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$`)

func (v *validator) upstreams() {
	seen := map[string]string{}
	for i := range v.c.Upstreams {
		u := &v.c.Upstreams[i]
		switch prev, dup := seen[u.Name]; {
		case u.Name == "":
			v.add(u.Path+".name", "is required")
		case !upstreamName.MatchString(u.Name):
			v.add(u.Path+".name", "must be 1-63 of [a-z0-9_-], not starting or ending with - or _, got %q", u.Name)
		case dup:
			v.add(u.Path+".name", "duplicate upstream name %q (also %s)", u.Name, prev)
		default:
			seen[u.Name] = u.Path
		}
		v.upstream(u)
	}
}

func (v *validator) upstream(u *Upstream) {
	if nc := u.NewCentral; nc != nil {
		p := u.Path
		v.baseURL(p+".base_url", nc.BaseURL, nc.AllowHTTP)
		_, nc.AdminKey = v.secret(p+".admin_key", nc.AdminKeyEnv, &nc.AdminKeyFile)
		v.positive(p+".rate_limit", nc.RateLimit)
		if nc.Timeout < 0 {
			v.add(p+".timeout", "must be positive, got %s", nc.Timeout)
		}
		if nc.ExpirySkew < 0 {
			v.add(p+".expiry_skew", "must not be negative, got %s", nc.ExpirySkew)
		}
		v.template(p+".paths.create_key", nc.Paths.CreateKey, "{id}")
		v.template(p+".paths.delete_key", nc.Paths.DeleteKey, "{id}")
		v.template(p+".paths.get_service_account", nc.Paths.GetServiceAccount, "{id}")
		v.adminCredential(p, nc)
	}
	if l := u.Legacy; l != nil {
		p := u.Path
		v.baseURL(p+".base_url", l.BaseURL, l.AllowHTTP)
		_, l.Token = v.secret(p+".token", l.TokenEnv, &l.TokenFile)
		l.AuthScheme = strings.ToLower(l.AuthScheme)
		if l.AuthScheme != "token" && l.AuthScheme != "bearer" {
			v.add(p+".auth_scheme", "must be token or bearer, got %q", l.AuthScheme)
		}
		v.positive(p+".rate_limit", l.RateLimit)
		if l.Timeout < 0 {
			v.add(p+".timeout", "must be positive, got %s", l.Timeout)
		}
		v.template(p+".paths.status", l.Paths.Status)
		v.template(p+".paths.user", l.Paths.User, "{id}")
		v.template(p+".paths.create_token", l.Paths.CreateToken, "{id}")
		v.template(p+".paths.delete_token", l.Paths.DeleteToken, "{id}", "{name}")
		v.foreignKeys(p+".foreign_keys", l.ForeignKeys)
		v.maxResponse(p+".max_response_bytes", l.MaxResponseBytes)
		if l.ForeignKeys == ForeignKeysDelete && l.AdminTokenName == "" {
			// Legacy lists names only: without the name, the admin token
			// could be taken for a foreign one and deleted.
			v.add(p+".admin_token_name", "is required with foreign_keys: delete")
		}
	}
}

// Bounds on the admin credential settings that catch typos.
const (
	minRotateLifetime = time.Hour
	maxResponseCap    = 1 << 30
)

func (v *validator) adminCredential(p string, nc *NewCentral) {
	v.foreignKeys(p+".foreign_keys", nc.ForeignKeys)
	v.maxResponse(p+".max_response_bytes", nc.MaxResponseBytes)
	if nc.ExpiryWarning < 0 {
		v.add(p+".expiry_warning", "must not be negative, got %s", nc.ExpiryWarning)
	}
	if nc.ExpiryMinimum < 0 {
		v.add(p+".expiry_minimum", "must not be negative, got %s", nc.ExpiryMinimum)
	}
	if nc.CredentialPollInterval <= 0 {
		v.add(p+".credential_poll_interval", "must be positive, got %s", nc.CredentialPollInterval)
	}
	r := nc.Rotate
	if r == nil {
		return
	}
	if id := v.c.Idempotency; id.SealKeyEnv == "" && id.SealKeyFile == "" {
		v.add(p+".rotate", "needs idempotency.seal_key_env or seal_key_file: the new admin key is stored sealed with it, for every replica to read")
	}
	if r.Before <= 0 {
		v.add(p+".rotate.before", "must be positive, got %s", r.Before)
	}
	switch {
	case r.Lifetime < minRotateLifetime:
		v.add(p+".rotate.lifetime", "must be at least %s, got %s", minRotateLifetime, r.Lifetime)
	case r.Lifetime <= r.Before:
		v.add(p+".rotate.lifetime", "must be longer than rotate.before (%s), or every new key would be due at once", r.Before)
	}
	if r.Grace <= nc.CredentialPollInterval {
		v.add(p+".rotate.grace", "must be longer than credential_poll_interval (%s), so every replica switches before the old key is deleted", nc.CredentialPollInterval)
	}
}

func (v *validator) foreignKeys(path, mode string) {
	if mode != ForeignKeysAlarm && mode != ForeignKeysDelete {
		v.add(path, "must be alarm or delete, got %q", mode)
	}
}

func (v *validator) maxResponse(path string, n int64) {
	if n < 1<<20 || n > maxResponseCap {
		v.add(path, "must be between 1 MiB and 1 GiB, got %d", n)
	}
}

func (v *validator) positive(path string, f float64) {
	if f <= 0 {
		v.add(path, "must be positive, got %g", f)
	}
}

// baseURL accepts https, and http only for loopback hosts (a local
// emulator) or when the operator opted in with allow_http, since the admin
// credential travels in every request.
func (v *validator) baseURL(path, raw string, allowHTTP bool) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		v.add(path, "must be an absolute URL, got %q", raw)
	case u.User != nil:
		v.add(path, "must not carry credentials")
	case u.RawQuery != "" || u.Fragment != "":
		v.add(path, "must not have a query or fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && (allowHTTP || isLoopback(u.Hostname())):
	default:
		v.add(path, "must be https (http only for loopback, or with allow_http), got %q", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// template checks a path template: empty means the client's default;
// otherwise it must start with / and use exactly the placeholders given.
func (v *validator) template(path, tmpl string, want ...string) {
	if tmpl == "" {
		return
	}
	if !strings.HasPrefix(tmpl, "/") {
		v.add(path, "must start with /, got %q", tmpl)
	}
	got := placeholder.FindAllString(tmpl, -1)
	for _, g := range got {
		if !slices.Contains(want, g) {
			v.add(path, "unknown placeholder %s (allowed: %s)", g, placeholderList(want))
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			v.add(path, "must contain %s", w)
		}
	}
}

func placeholderList(want []string) string {
	if len(want) == 0 {
		return "none"
	}
	return strings.Join(want, ", ")
}
