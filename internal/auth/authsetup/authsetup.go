package authsetup

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/auth/mtlsauth"
	"github.com/ztbroker/ztbroker/internal/auth/oidcauth"
	"github.com/ztbroker/ztbroker/internal/auth/tlsreload"
	"github.com/ztbroker/ztbroker/internal/config"
)

// Options are process-wide dependencies.
type Options struct {
	// Logger receives key refresh and TLS reload notices; nil discards.
	Logger *slog.Logger
	// HTTPClient fetches OIDC discovery documents and keys; nil means a
	// private client.
	HTTPClient *http.Client
	// Now defaults to time.Now.
	Now func() time.Time
}

// Result is what the server needs.
type Result struct {
	Authenticator auth.Authenticator
	// TLS is nil when listen.tls is not configured. Use TLS.TLSConfig()
	// for both listeners and call TLS.Reload on SIGHUP.
	TLS *tlsreload.Reloader
}

// Build assembles authentication from cfg, which must have been loaded
// with its secrets (not SkipSecrets). It makes no network calls.
func Build(cfg *config.Config, o Options) (*Result, error) {
	res := &Result{}
	if t := cfg.Listen.TLS; t != nil {
		r, err := tlsreload.New(tlsreload.Config{
			CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile,
			ClientAuth: t.ClientAuth, Logger: o.Logger,
		})
		if err != nil {
			return nil, err
		}
		res.TLS = r
	}

	var chain []auth.Authenticator
	if len(cfg.Auth.APIKeys) > 0 {
		keys := make(map[string]string, len(cfg.Auth.APIKeys))
		for _, k := range cfg.Auth.APIKeys {
			if k.Hash == "" {
				return nil, fmt.Errorf("api key %q has no hash; was the config loaded without secrets?", k.Name)
			}
			keys[k.Name] = k.Hash
		}
		a, err := auth.NewAPIKeys(keys, cfg.Auth.Admins)
		if err != nil {
			return nil, err
		}
		chain = append(chain, a)
	}
	if oc := cfg.Auth.OIDC; oc != nil {
		a, err := oidcauth.New(oidcConfig(oc, o))
		if err != nil {
			return nil, err
		}
		chain = append(chain, a)
	}
	if cfg.Auth.MTLS.Enabled {
		chain = append(chain, mtlsauth.New(o.Now))
	}
	res.Authenticator = auth.NewChain(cfg.Auth.Admins, chain...)
	return res, nil
}

func oidcConfig(oc *config.OIDC, o Options) oidcauth.Config {
	c := oidcauth.Config{
		Audience:   oc.Audience,
		ClockSkew:  oc.ClockSkew,
		HTTPClient: o.HTTPClient,
		Now:        o.Now,
		Logger:     o.Logger,
	}
	for _, is := range oc.Issuers {
		c.Issuers = append(c.Issuers, oidcauth.Issuer{
			Name: is.Name, Preset: is.Preset, IssuerURL: is.IssuerURL, Audience: is.Audience,
			ClaimsToKeep: is.ClaimsToKeep, SigningAlgs: is.SigningAlgs, JWKSURL: is.JWKSURL, CAFile: is.CAFile,
		})
	}
	return c
}
