package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

// issuers builds one client per upstream account the purposes use. All
// New Central accounts share one limiter: ZeroTier's rate limit applies to
// the organisation, not to a service account.
type issuers struct {
	newCentral map[string]upstream.Issuer
	legacy     upstream.Issuer
	// Each upstream's limiter, shared with the proxy's forwarded calls so
	// that they queue behind minting and revoking.
	ncLimiter, legacyLimiter *upstream.Limiter
}

func newHTTPBase() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Issuance bursts would otherwise open and close connections to the
	// same host; keeping more idle ones avoids a TLS handshake per mint.
	tr.MaxIdleConnsPerHost = 64
	tr.MaxIdleConns = 128
	return &http.Client{Transport: tr}
}

func buildIssuers(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, base *http.Client, tp trace.TracerProvider) (*issuers, error) {
	out := &issuers{newCentral: map[string]upstream.Issuer{}}
	if nc := cfg.Upstreams.NewCentral; nc != nil {
		lim := upstream.NewLimiter(nc.RateLimit, 0, nil)
		out.ncLimiter = lim
		for _, p := range cfg.Purposes {
			if p.Upstream.Kind != config.UpstreamNewCentral || out.newCentral[p.Upstream.ServiceAccountID] != nil {
				continue
			}
			c, err := newcentral.New(newcentral.Config{
				BaseURL:               nc.BaseURL,
				HTTPClient:            base,
				AdminKey:              nc.AdminKey.Reveal(),
				ServiceAccountID:      p.Upstream.ServiceAccountID,
				CreateKeyPath:         nc.Paths.CreateKey,
				DeleteKeyPath:         nc.Paths.DeleteKey,
				GetServiceAccountPath: nc.Paths.GetServiceAccount,
				Upstream: upstream.Options{
					Name: "new_central", Limiter: lim, Timeout: nc.Timeout,
					Registerer: reg, Logger: log, TracerProvider: tp,
				},
			})
			if err != nil {
				return nil, fmt.Errorf("new_central client for %s: %w", p.Upstream.ServiceAccountID, err)
			}
			out.newCentral[p.Upstream.ServiceAccountID] = c
		}
	}
	if lg := cfg.Upstreams.Legacy; lg != nil {
		out.legacyLimiter = upstream.NewLimiter(lg.RateLimit, 0, nil)
		c, err := legacy.New(legacy.Config{
			BaseURL:         lg.BaseURL,
			HTTPClient:      base,
			AdminToken:      lg.Token.Reveal(),
			AdminScheme:     lg.AuthScheme,
			UserID:          lg.UserID,
			StatusPath:      lg.Paths.Status,
			UserPath:        lg.Paths.User,
			CreateTokenPath: lg.Paths.CreateToken,
			DeleteTokenPath: lg.Paths.DeleteToken,
			Upstream: upstream.Options{
				Name: "legacy", Limiter: out.legacyLimiter, Timeout: lg.Timeout,
				Registerer: reg, Logger: log, TracerProvider: tp,
			},
		})
		if err != nil {
			return nil, fmt.Errorf("legacy client: %w", err)
		}
		if c.Account() == "" {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			id, err := c.DiscoverUserID(dctx)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("legacy: discover user id (set upstreams.legacy.user_id to skip): %w", err)
			}
			log.Info("legacy user discovered", "user_id", id)
		}
		out.legacy = c
	}
	return out, nil
}

func (is *issuers) forPurpose(p config.Purpose) (upstream.Issuer, error) {
	switch p.Upstream.Kind {
	case config.UpstreamNewCentral:
		if c := is.newCentral[p.Upstream.ServiceAccountID]; c != nil {
			return c, nil
		}
	case config.UpstreamLegacy:
		if is.legacy != nil {
			return is.legacy, nil
		}
	}
	return nil, fmt.Errorf("purpose %q: upstream %s is not configured", p.Name, p.Upstream.Kind)
}
