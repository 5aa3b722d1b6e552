package config

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

var placeholder = regexp.MustCompile(`\{[^}]*\}`)

func (v *validator) upstreams() {
	if nc := v.c.Upstreams.NewCentral; nc != nil {
		const p = "upstreams.new_central"
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
	}
	if l := v.c.Upstreams.Legacy; l != nil {
		const p = "upstreams.legacy"
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
