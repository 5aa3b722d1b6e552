package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/auth/mtlsauth"
	"github.com/ztbroker/ztbroker/internal/auth/oidcauth"
	"github.com/ztbroker/ztbroker/internal/auth/tlsreload"
	"github.com/ztbroker/ztbroker/internal/config"
)

// buildAuth assembles the credential chain — API keys, then OIDC, then
// client certificates — and, when configured, the server TLS config that
// client certificates arrive through. Certificates reload on SIGHUP as
// well as when their files change.
func buildAuth(ctx context.Context, f *config.Config, log *slog.Logger, sighup <-chan os.Signal, closers *closers) (auth.Authenticator, *tls.Config, error) {
	keys := make(map[string]string, len(f.Auth.APIKeys))
	for _, k := range f.Auth.APIKeys {
		keys[k.Name] = k.Hash
	}
	apiKeys, err := auth.NewAPIKeys(keys, f.Auth.Admins)
	if err != nil {
		return nil, nil, err
	}
	chain := []auth.Authenticator{apiKeys}

	if o := f.Auth.OIDC; o != nil && len(o.Issuers) > 0 {
		oc := oidcauth.Config{Audience: o.Audience, ClockSkew: o.ClockSkew, Logger: log.With("auth", "oidc")}
		for _, is := range o.Issuers {
			oc.Issuers = append(oc.Issuers, oidcauth.Issuer{
				Name: is.Name, Preset: is.Preset, IssuerURL: is.IssuerURL, Audience: is.Audience,
				ClaimsToKeep: is.ClaimsToKeep, SigningAlgs: is.SigningAlgs, JWKSURL: is.JWKSURL, CAFile: is.CAFile,
			})
		}
		oa, err := oidcauth.New(oc)
		if err != nil {
			return nil, nil, err
		}
		chain = append(chain, oa)
	}

	var tlsCfg *tls.Config
	if t := f.Listen.TLS; t != nil {
		r, err := tlsreload.New(tlsreload.Config{
			CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile, ClientAuth: t.ClientAuth,
			Logger: log.With("tls", "reload"),
		})
		if err != nil {
			return nil, nil, err
		}
		tlsCfg = r.TLSConfig()
		if sighup != nil {
			done := make(chan struct{})
			closers.push(func() error { close(done); return nil })
			go reloadOnSignal(ctx, r, sighup, done, log)
		}
	}
	if f.Auth.MTLS.Enabled {
		chain = append(chain, mtlsauth.New(nil))
	}
	return auth.NewChain(f.Auth.Admins, chain...), tlsCfg, nil
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
