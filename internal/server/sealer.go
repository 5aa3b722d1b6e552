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
	key, err := seal.ParseKey(f.Idempotency.SealKey.Reveal())
	if err != nil {
		return nil, err
	}
	return seal.New(key)
}
