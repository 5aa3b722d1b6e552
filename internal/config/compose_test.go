package config_test

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

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
		"ZT_STAGING_ADMIN_KEY": "emulator-staging-admin-token-for-local-use-only",
		"BROKER_CI_API_KEY":    "ci-api-key-for-local-use-only",
		"BROKER_SEAL_KEY":      sealKeyB64,
	}
	c, err := config.LoadWith("../../deploy/broker.compose.yaml", config.Options{LookupEnv: fakeEnv(env)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.Purposes {
		got = append(got, p.Name+"@"+p.Upstream.Name+"/"+p.Upstream.ServiceAccountID)
	}
	if want := "netops@new_central/sa-dev netops-staging@staging/sa-staging legacy-readonly@legacy/"; strings.Join(got, " ") != want {
		t.Errorf("purposes = %q, want %q", got, want)
	}
	for _, w := range c.Warnings() {
		if strings.Contains(w, "deprecated") {
			t.Errorf("the compose file uses a deprecated form: %s", w)
		}
	}
}

// TestComposeShipsNoBrokerSecrets: docker-compose.yml must not carry a
// seal key or API key of its own, the same in every checkout; it
// requires them from the environment, with compose's ${VAR:?message},
// so a missing one stops `docker compose up` with that message.
func TestComposeShipsNoBrokerSecrets(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `json:"environment"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for name, svc := range compose.Services {
		for _, secret := range []string{"BROKER_SEAL_KEY", "BROKER_CI_API_KEY"} {
			v, ok := svc.Environment[secret]
			if !ok {
				continue
			}
			seen++
			if !strings.HasPrefix(v, "${"+secret+":?") || !strings.HasSuffix(v, "}") {
				t.Errorf("service %s sets %s to a value of its own, not a required ${%s:?...}", name, secret, secret)
			}
		}
	}
	if seen == 0 {
		t.Error("no service takes BROKER_SEAL_KEY or BROKER_CI_API_KEY; has the file changed shape?")
	}
}
