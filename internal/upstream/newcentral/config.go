package newcentral

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Default path templates; {id} is replaced by the path-escaped id.
const (
	DefaultCreateKeyPath           = "/api/v2/service-account/{id}/api-key"
	DefaultDeleteKeyPath           = "/api/v2/api-key/{id}"
	DefaultGetKeyPath              = "/api/v2/api-key/{id}"
	DefaultGetServiceAccountPath   = "/api/v2/service-account/{id}"
	DefaultListServiceAccountsPath = "/api/v2/org/{id}/service-account"
	DefaultListOrgsPath            = "/api/v2/org"
)

// Config configures a Client, or with NewAPI the API several clients
// share.
type Config struct {
	// Name is the upstream's configured name, which leases record;
	// defaults to new_central.
	Name string
	// BaseURL is the API origin, e.g. https://central.zerotier.com; the
	// paths carry the /api/v2 prefix.
	BaseURL    string
	HTTPClient *http.Client
	// AdminKey is the service account's own API key, sent as a Bearer
	// token. It never leaves the Authorization header. Ignored when
	// Credential is set.
	AdminKey string
	// Credential, when set, is the upstream's shared admin credential:
	// rotation swaps its secret under every client at once.
	Credential *upstream.AdminCredential
	// ServiceAccountID is the account a Client mints on (New only).
	ServiceAccountID string

	CreateKeyPath           string
	DeleteKeyPath           string
	GetKeyPath              string
	GetServiceAccountPath   string
	ListServiceAccountsPath string
	ListOrgsPath            string

	// MaxResponseBytes caps one response; zero means
	// upstream.DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Skew, when set, moves key expiries onto Central's clock as learnt
	// from its Date headers. Its clock must be the one expiries are
	// computed with. Set it in Upstream.Skew too, so responses feed it.
	Skew *upstream.ClockSkew

	// Upstream configures rate limiting, timeouts, metrics and tracing.
	// Name defaults to "new_central/<service account id>".
	Upstream upstream.Options
	// Now is the clock used to interpret Retry-After dates; nil means
	// time.Now.
	Now func() time.Time
}

// String keeps the admin key out of anything that prints a Config.
func (c Config) String() string {
	return fmt.Sprintf("newcentral.Config{BaseURL:%q ServiceAccountID:%q AdminKey:[redacted]}",
		c.BaseURL, c.ServiceAccountID)
}

func (c *Config) complete(needAccount bool) error {
	var errs []error
	c.Name = cmp.Or(c.Name, lease.UpstreamNewCentral)
	if c.BaseURL == "" {
		errs = append(errs, errors.New("BaseURL is required"))
	} else if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, errors.New("BaseURL must be an absolute URL"))
	}
	switch {
	case c.Credential != nil && c.AdminKey != "":
		errs = append(errs, errors.New("set AdminKey or Credential, not both"))
	case c.Credential == nil && c.AdminKey == "":
		errs = append(errs, errors.New("AdminKey or Credential is required"))
	case c.Credential == nil:
		c.Credential = upstream.NewAdminCredential(c.AdminKey)
	}
	c.AdminKey = ""
	if needAccount && c.ServiceAccountID == "" {
		errs = append(errs, errors.New("ServiceAccountID is required"))
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	c.CreateKeyPath = cmp.Or(c.CreateKeyPath, DefaultCreateKeyPath)
	c.DeleteKeyPath = cmp.Or(c.DeleteKeyPath, DefaultDeleteKeyPath)
	c.GetKeyPath = cmp.Or(c.GetKeyPath, DefaultGetKeyPath)
	c.GetServiceAccountPath = cmp.Or(c.GetServiceAccountPath, DefaultGetServiceAccountPath)
	c.ListServiceAccountsPath = cmp.Or(c.ListServiceAccountsPath, DefaultListServiceAccountsPath)
	c.ListOrgsPath = cmp.Or(c.ListOrgsPath, DefaultListOrgsPath)
	for _, p := range []string{c.CreateKeyPath, c.DeleteKeyPath, c.GetKeyPath, c.GetServiceAccountPath, c.ListServiceAccountsPath} {
		if !strings.HasPrefix(p, "/") || !strings.Contains(p, "{id}") {
			errs = append(errs, fmt.Errorf("path template %q must start with / and contain {id}", p))
		}
	}
	if !strings.HasPrefix(c.ListOrgsPath, "/") {
		errs = append(errs, fmt.Errorf("path %q must start with /", c.ListOrgsPath))
	}
	if c.Upstream.Name == "" {
		c.Upstream.Name = "new_central"
		if c.ServiceAccountID != "" {
			c.Upstream.Name += "/" + c.ServiceAccountID
		}
	}
	if c.Skew != nil && c.Upstream.Skew == nil {
		c.Upstream.Skew = c.Skew
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("newcentral config: %w", err)
	}
	return nil
}

// expand fills a path template; ids are escaped so a hostile id cannot
// reach another route.
func expand(tmpl, id string) string {
	return strings.ReplaceAll(tmpl, "{id}", url.PathEscape(id))
}
