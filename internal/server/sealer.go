package server

import (
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/seal"
)

// buildSealer returns nil when no seal key is configured: idempotent
// retries then get the lease back but never the secret.
func buildSealer(f *config.Config) (*seal.Sealer, error) {
	if !f.Idempotency.SealKey.IsSet() {
		return nil, nil
	}
	return seal.New(f.Idempotency.SealKey.Bytes())
}
