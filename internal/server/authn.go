package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/auth/authsetup"
	"github.com/ztbroker/ztbroker/internal/auth/tlsreload"
	"github.com/ztbroker/ztbroker/internal/config"
)

// buildAuth assembles the credential chain and the server TLS config the
// client certificates arrive through, and reloads the certificates on
// SIGHUP as well as when their files change.
func buildAuth(ctx context.Context, f *config.Config, log *slog.Logger, sighup <-chan os.Signal, closers *closers) (auth.Authenticator, *tls.Config, error) {
	res, err := authsetup.Build(f, authsetup.Options{Logger: log})
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
