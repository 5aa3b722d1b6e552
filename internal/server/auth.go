package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/auth/mtlsauth"
	"github.com/ztbroker/ztbroker/internal/auth/oidcauth"
	"github.com/ztbroker/ztbroker/internal/auth/tlsreload"
	"github.com/ztbroker/ztbroker/internal/config"
)

// authOptions are the process-wide dependencies of authentication.
type authOptions struct {
	// Logger receives key refresh and TLS reload notices; nil discards.
	Logger *slog.Logger
	// HTTPClient fetches OIDC discovery documents and keys; nil means a
	// private client.
	HTTPClient *http.Client
	// Now defaults to time.Now.
	Now func() time.Time
}

// authSetup is the credential chain and the reloading server TLS config
// that client certificates arrive through; TLS is nil without listen.tls.
type authSetup struct {
	Authenticator auth.Authenticator
	TLS           *tlsreload.Reloader
}

// buildAuth assembles authentication and reloads the certificates on
// SIGHUP as well as when their files change.
func buildAuth(ctx context.Context, f *config.Config, log *slog.Logger, sighup <-chan os.Signal, closers *closers) (auth.Authenticator, *tls.Config, error) {
	res, err := newAuthSetup(f, authOptions{Logger: log})
	if err != nil {
		return nil, nil, err
	}
	if res.TLS == nil {
		return res.Authenticator, nil, nil
	}
	if sighup != nil {
		done := make(chan struct{})
		closers.push(func() error { close(done); return nil })
		go reloadOnSignal(ctx, res.TLS, sighup, done, log)
	}
	return res.Authenticator, res.TLS.TLSConfig(), nil
}

// newAuthSetup maps the config onto the authenticators: API keys, then
// OIDC, then client certificates. cfg must have been loaded with its
// secrets. It makes no network calls.
func newAuthSetup(cfg *config.Config, o authOptions) (*authSetup, error) {
	res := &authSetup{}
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

func oidcConfig(oc *config.OIDC, o authOptions) oidcauth.Config {
	c := oidcauth.Config{
		Audience:         oc.Audience,
		ClockSkew:        oc.ClockSkew,
		MaxTokenLifetime: oc.MaxTokenLifetime,
		HTTPClient:       o.HTTPClient,
		Now:              o.Now,
		Logger:           o.Logger,
	}
	for _, is := range oc.Issuers {
		c.Issuers = append(c.Issuers, oidcauth.Issuer{
			Name: is.Name, Preset: is.Preset, IssuerURL: is.IssuerURL, Audience: is.Audience,
			ClaimsToKeep: is.ClaimsToKeep, OwnerClaims: is.OwnerClaims, SigningAlgs: is.SigningAlgs, JWKSURL: is.JWKSURL, CAFile: is.CAFile,
		})
	}
	return c
}

func reloadOnSignal(ctx context.Context, r *tlsreload.Reloader, sig <-chan os.Signal, done <-chan struct{}, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-sig:
			if err := r.Reload(); err != nil {
				log.Error("TLS reload on SIGHUP failed; keeping the previous certificates", "err", err)
				continue
			}
			log.Info("TLS certificates reloaded on SIGHUP")
		}
	}
}
