package legacy

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Defaults for Config. The paths are relative to BaseURL; {id} is the user
// id and {name} the token name, both path-escaped.
const (
	DefaultBaseURL         = "https://api.zerotier.com/api/v1"
	DefaultStatusPath      = "/status"
	DefaultUserPath        = "/user/{id}"
	DefaultCreateTokenPath = "/user/{id}/token"
	DefaultDeleteTokenPath = "/user/{id}/token/{name}"
)

// Admin auth schemes. "token" is what the current docs say; "bearer" is
// what older clients send and Central still accepts.
const (
	SchemeToken  = "token"
	SchemeBearer = "bearer"
)

// Config configures a Client.
type Config struct {
	// Name is the upstream's configured name, which leases record;
	// defaults to legacy.
	Name       string
	BaseURL    string
	HTTPClient *http.Client
	// AdminToken is the long-lived user API token the broker mints with.
	// Ignored when Credential is set.
	AdminToken string
	// Credential, when set, is the upstream's shared admin credential,
	// reloaded in place when its file changes.
	Credential *upstream.AdminCredential
	// AdminScheme is SchemeToken (default) or SchemeBearer.
	AdminScheme string
	// UserID is the user whose tokens are managed; when empty it is found
	// with DiscoverUserID.
	UserID string

	StatusPath      string
	UserPath        string
	CreateTokenPath string
	DeleteTokenPath string

	// MaxResponseBytes caps one response; zero means
	// upstream.DefaultMaxResponseBytes.
	MaxResponseBytes int64

	// Upstream configures rate limiting, timeouts, metrics and tracing.
	// Name defaults to "legacy/<user id>", or "legacy" before discovery.
	Upstream upstream.Options
	// Rand supplies token bytes; nil means crypto/rand.
	Rand io.Reader
	// Now interprets Retry-After dates; nil means time.Now.
	Now func() time.Time
}

// String keeps the admin token out of anything that prints a Config.
func (c Config) String() string {
	return fmt.Sprintf("legacy.Config{BaseURL:%q UserID:%q AdminToken:[redacted]}", c.BaseURL, c.UserID)
}

func (c *Config) complete() error {
	var errs []error
	c.Name = cmp.Or(c.Name, lease.UpstreamLegacy)
	c.BaseURL = strings.TrimRight(cmp.Or(c.BaseURL, DefaultBaseURL), "/")
	if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, errors.New("BaseURL must be an absolute URL"))
	}
	switch {
	case c.Credential != nil && c.AdminToken != "":
		errs = append(errs, errors.New("set AdminToken or Credential, not both"))
	case c.Credential == nil && c.AdminToken == "":
		errs = append(errs, errors.New("AdminToken or Credential is required"))
	case c.Credential == nil:
		c.Credential = upstream.NewAdminCredential(c.AdminToken)
	}
	c.AdminToken = ""
	switch strings.ToLower(c.AdminScheme) {
	case "", SchemeToken:
		c.AdminScheme = SchemeToken
	case SchemeBearer:
		c.AdminScheme = SchemeBearer
	default:
		errs = append(errs, fmt.Errorf("AdminScheme must be %q or %q", SchemeToken, SchemeBearer))
	}
	c.StatusPath = cmp.Or(c.StatusPath, DefaultStatusPath)
	c.UserPath = cmp.Or(c.UserPath, DefaultUserPath)
	c.CreateTokenPath = cmp.Or(c.CreateTokenPath, DefaultCreateTokenPath)
	c.DeleteTokenPath = cmp.Or(c.DeleteTokenPath, DefaultDeleteTokenPath)
	for _, p := range []string{c.StatusPath, c.UserPath, c.CreateTokenPath, c.DeleteTokenPath} {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("path template %q must start with /", p))
		}
	}
	if !strings.Contains(c.DeleteTokenPath, "{name}") {
		errs = append(errs, errors.New("DeleteTokenPath must contain {name}"))
	}
	if c.Upstream.Name == "" {
		c.Upstream.Name = "legacy"
		if c.UserID != "" {
			c.Upstream.Name += "/" + c.UserID
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("legacy config: %w", err)
	}
	return nil
}

func expand(tmpl, userID, name string) string {
	return strings.NewReplacer("{id}", url.PathEscape(userID), "{name}", url.PathEscape(name)).Replace(tmpl)
}
