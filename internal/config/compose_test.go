package config_test

import (
	"testing"

	"github.com/ztbroker/ztbroker/internal/config"
)

// TestComposeConfigLoads keeps the configuration docker-compose.yml
// mounts valid; it cannot be started here, so this is its only check.
func TestComposeConfigLoads(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"BROKER_DATABASE_URL":  "postgres://ztbroker:ztbroker@postgres:5432/ztbroker?sslmode=disable",
		"ZT_CENTRAL_ADMIN_KEY": "emulator-admin-token-for-local-use-only",
		"ZT_LEGACY_TOKEN":      "emulator-admin-token-for-local-use-only",
		"BROKER_CI_API_KEY":    "ci-api-key-for-local-use-only",
		"BROKER_SEAL_KEY":      sealKeyB64,
	}
	c, err := config.LoadWith("../../deploy/broker.compose.yaml", config.Options{LookupEnv: fakeEnv(env)})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Purposes); got != 2 {
		t.Errorf("purposes = %d, want 2", got)
	}
}
