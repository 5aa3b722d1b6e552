package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/config"
)

// upstreamSummary is what a test compares of the loaded upstreams and
// the purposes on them.
type upstreamSummary struct {
	Upstreams []string // name/kind/path/secret
	Purposes  []string // purpose -> upstream/kind/account
}

func summarise(c *config.Config) upstreamSummary {
	var s upstreamSummary
	for _, u := range c.Upstreams {
		secret := ""
		switch {
		case u.NewCentral != nil:
			secret = u.NewCentral.AdminKey.Reveal()
		case u.Legacy != nil:
			secret = u.Legacy.Token.Reveal()
		}
		s.Upstreams = append(s.Upstreams, strings.Join([]string{u.Name, u.Kind, u.Path, secret}, "/"))
	}
	for _, p := range c.Purposes {
		s.Purposes = append(s.Purposes, p.Name+" -> "+strings.Join([]string{p.Upstream.Name, p.Upstream.Kind, p.Account(c)}, "/"))
	}
	return s
}

// The mapping form every configuration written before upstreams had
// names uses keeps loading: its upstreams are named after their kind,
// which is what the leases minted under it recorded.
func TestOlderUpstreamsFormLoads(t *testing.T) {
	t.Parallel()
	c, err := config.ParseWith("b.yaml", []byte(doc(map[string]string{
		"upstreams": `
  legacy:
    token_file: /run/secrets/legacy
    user_id: u-1
  new_central:
    admin_key_env: ZT_CENTRAL_ADMIN_KEY`,
		"purposes": `
  - {name: deploy, upstream: {kind: new_central, service_account_id: sa1}, allow: {api_keys: [ci]}}
  - {name: audit, upstream: {kind: legacy}, allow: {api_keys: [ci]}}`,
	})), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := upstreamSummary{
		Upstreams: []string{
			"new_central/new_central/upstreams.new_central/central-admin-secret",
			"legacy/legacy/upstreams.legacy/file-secret",
		},
		Purposes: []string{"deploy -> new_central/new_central/sa1", "audit -> legacy/legacy/u-1"},
	}
	if diff := cmp.Diff(want, summarise(c)); diff != "" {
		t.Errorf("loaded (-want +got):\n%s", diff)
	}
	if len(c.Warnings()) != 1 || !strings.Contains(c.Warnings()[0], "named after their kind (new_central, legacy)") ||
		!strings.Contains(c.Warnings()[0], "upstreams: [{name: prod, kind: new_central") {
		t.Errorf("notices = %q, want one showing the list form", c.Warnings())
	}
}

func TestNamedUpstreams(t *testing.T) {
	t.Parallel()
	c, err := config.ParseWith("b.yaml", []byte(doc(map[string]string{
		"upstreams": `
  - name: prod
    kind: new_central
    admin_key_env: ZT_CENTRAL_ADMIN_KEY
    service_account_id: sa-prod
  - name: staging
    kind: new_central
    admin_key_file: /run/secrets/staging
    service_account_id: sa-staging
    rate_limit: 7
  - {name: old, kind: legacy, token_file: /run/secrets/old, user_id: u-old}`,
		"purposes": `
  - {name: deploy, upstream: prod, allow: {api_keys: [ci]}}
  - {name: stage, upstream: staging, allow: {api_keys: [ci]}}
  - {name: other-sa, upstream: {name: staging, service_account_id: sa-2}, allow: {api_keys: [ci]}}
  - {name: audit, upstream: {kind: legacy}, allow: {api_keys: [ci]}}`,
	})), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := upstreamSummary{
		Upstreams: []string{
			"prod/new_central/upstreams[0]/central-admin-secret",
			"staging/new_central/upstreams[1]/file-secret",
			"old/legacy/upstreams[2]/file-secret",
		},
		Purposes: []string{
			"deploy -> prod/new_central/sa-prod",
			"stage -> staging/new_central/sa-staging",
			"other-sa -> staging/new_central/sa-2",
			// The only legacy upstream, picked by kind.
			"audit -> old/legacy/u-old",
		},
	}
	if diff := cmp.Diff(want, summarise(c)); diff != "" {
		t.Errorf("loaded (-want +got):\n%s", diff)
	}
	if got := c.Upstream("staging").RateLimit(); got != 7 {
		t.Errorf("staging rate limit = %g, want 7", got)
	}
	if got := c.Upstream("prod").RateLimit(); got != config.DefaultNewCentralRateLimit {
		t.Errorf("prod rate limit = %g, want the default", got)
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("notices = %q, want none", c.Warnings())
	}
}

// With exactly one upstream, a purpose may leave its upstream out.
func TestOneUpstreamIsTheDefault(t *testing.T) {
	t.Parallel()
	c, err := config.ParseWith("b.yaml", []byte(doc(map[string]string{
		"upstreams": `
  - {name: only, kind: new_central, admin_key_env: ZT_CENTRAL_ADMIN_KEY, service_account_id: sa-1}`,
		"purposes": `
  - {name: deploy, allow: {api_keys: [ci]}}`,
	})), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := summarise(c).Purposes; !cmp.Equal(got, []string{"deploy -> only/new_central/sa-1"}) {
		t.Errorf("purposes = %q", got)
	}
}
