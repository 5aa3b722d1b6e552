package newcentral

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Default path templates; {id} is replaced by the path-escaped id.
const (
	DefaultCreateKeyPath         = "/api/v2/service-account/{id}/api-key"
	DefaultDeleteKeyPath         = "/api/v2/api-key/{id}"
	DefaultGetServiceAccountPath = "/api/v2/service-account/{id}"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the API origin, e.g. https://central.zerotier.com; the
	// paths carry the /api/v2 prefix.
	BaseURL    string
	HTTPClient *http.Client
	// AdminKey is the service account's own API key, sent as a Bearer
	// token. It never leaves the Authorization header.
	AdminKey         string
	ServiceAccountID string

	CreateKeyPath         string
	DeleteKeyPath         string
	GetServiceAccountPath string

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

func (c *Config) complete() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("BaseURL is required"))
	} else if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, errors.New("BaseURL must be an absolute URL"))
	}
	if c.AdminKey == "" {
		errs = append(errs, errors.New("AdminKey is required"))
	}
	if c.ServiceAccountID == "" {
		errs = append(errs, errors.New("ServiceAccountID is required"))
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	c.CreateKeyPath = cmp.Or(c.CreateKeyPath, DefaultCreateKeyPath)
	c.DeleteKeyPath = cmp.Or(c.DeleteKeyPath, DefaultDeleteKeyPath)
	c.GetServiceAccountPath = cmp.Or(c.GetServiceAccountPath, DefaultGetServiceAccountPath)
	for _, p := range []string{c.CreateKeyPath, c.DeleteKeyPath, c.GetServiceAccountPath} {
		if !strings.HasPrefix(p, "/") || !strings.Contains(p, "{id}") {
			errs = append(errs, fmt.Errorf("path template %q must start with / and contain {id}", p))
		}
	}
	c.Upstream.Name = cmp.Or(c.Upstream.Name, "new_central/"+c.ServiceAccountID)
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
