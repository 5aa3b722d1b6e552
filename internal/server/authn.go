package server

import (
	"context"
	"crypto/tls"
	"log/slog"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/config"
)

// buildAuth assembles the credential chain and, when configured, the
// server TLS config the mTLS identities come from.
func buildAuth(ctx context.Context, f *config.Config, log *slog.Logger) (auth.Authenticator, *tls.Config, error) {
	keys := make(map[string]string, len(f.Auth.APIKeys))
	for _, k := range f.Auth.APIKeys {
		keys[k.Name] = k.Hash
	}
	apiKeys, err := auth.NewAPIKeys(keys, f.Auth.Admins)
	if err != nil {
		return nil, nil, err
	}
	return auth.NewChain(f.Auth.Admins, apiKeys), nil, nil
}
