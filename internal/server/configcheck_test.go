package server_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
)

// TestConfigChecks checks the exact message of each problem that the
// domain's rules find, reported after the file's own problems and at the
// field they are about.
func TestConfigChecks(t *testing.T) {
	t.Parallel()
	env := map[string]string{"CI_KEY": "ci-secret", "SHORT_KEY": "YWJj", "ADMIN": "admin-key"}
	opts := config.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{
			name: "owners and policies",
			doc: `
database: {url: postgres://broker@localhost/x}
upstreams: {legacy: {token_env: ADMIN, user_id: u}}
auth:
  api_keys: [{name: ci, key_env: CI_KEY}]
  admins: ["api_key:ghost", "oidc:nowhere/x", "robot:x"]
purposes:
  - name: deploy
    upstream: {kind: legacy}
    allow:
      api_keys: [ci]
      subjects: ["mtls:cn:svc", "oidc:gh/repo:x", "nokind", "mtls:svc"]
      rules:
        - {name: r1, expr: "claims.ref =="}
        - {name: r2, expr: "identity.subject"}
`,
			want: []string{
				`b.yaml: auth.admins[0]: api key "ghost" is not configured in auth.api_keys`,
				"b.yaml: auth.admins[1]: names an oidc identity but auth.oidc is not configured",
				`b.yaml: auth.admins[2]: unknown kind "robot" (want api_key, mtls or oidc)`,
				"b.yaml: purposes[0].allow.subjects[0]: names an mtls identity but auth.mtls is not enabled",
				"b.yaml: purposes[0].allow.subjects[1]: names an oidc identity but auth.oidc is not configured",
				`b.yaml: purposes[0].allow.subjects[2]: must be "<kind>:<subject>"`,
				// A bare common name is the form from before common names
				// got a namespace of their own; the error gives the new one.
				`b.yaml: purposes[0].allow.subjects[3]: mtls subjects are "mtls:spiffe://<trust domain>/<path>" or "mtls:cn:<common name>"; for a certificate named by its common name write "mtls:cn:svc"`,
				`b.yaml: purposes[0].allow.rules[0].expr: rule "r1" of purpose "deploy": 1:14: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}`,
				`b.yaml: purposes[0].allow.rules[1].expr: rule "r2" of purpose "deploy": has type string, want bool`,
			},
		},
		{
			name: "a password in the database url, however it is spelled",
			doc: `
database: {url: "host=db user=broker password = hunter2"}
upstreams: {legacy: {token_env: ADMIN, user_id: u}}
auth: {api_keys: [{name: ci, key_env: CI_KEY}]}
purposes: [{name: deploy, upstream: {kind: legacy}, allow: {api_keys: [ci]}}]
`,
			want: []string{"b.yaml: database.url: must not contain a password; use url_env, a passfile or PGPASSWORD"},
		},
		{
			name: "oidc issuers, after the file's own problems",
			doc: `
database: {url: postgres://broker@localhost/x}
upstreams: {legacy: {token_env: ADMIN, user_id: u}}
auth:
  admins: ["oidc:nowhere/x"]
  oidc:
    clock_skew: 10m
    issuers:
      - {preset: github}
      - {preset: kubernetes}
      - {issuer_url: "http://idp.example.com", signing_algs: [none, RS256, HS256], claims_to_keep: ["a b"]}
      - {preset: gitlab, name: github, jwks_url: "ftp://x"}
      - {preset: azure}
purposes:
  - {name: deploy, upstream: {kind: legacy}, allow: {subjects: ["oidc:github/x"]}, default_ttl: -1s}
`,
			want: []string{
				"b.yaml: purposes[0].default_ttl: must be positive, got -1s",
				`b.yaml: auth.admins[0]: oidc subjects are "oidc:<issuer name>/<sub>"; no issuer is named "nowhere"`,
				"b.yaml: auth.oidc.clock_skew: must be between 0 and 5m0s, got 10m0s",
				"b.yaml: auth.oidc.issuers[0].audience: is required when auth.oidc.audience is not set",
				"b.yaml: auth.oidc.issuers[1].issuer_url: is required for kubernetes issuers",
				"b.yaml: auth.oidc.issuers[1].audience: is required when auth.oidc.audience is not set",
				"b.yaml: auth.oidc.issuers[2].name: is required for issuers without a preset",
				`b.yaml: auth.oidc.issuers[2].issuer_url: must be an https URL, got "http://idp.example.com"`,
				"b.yaml: auth.oidc.issuers[2].audience: is required when auth.oidc.audience is not set",
				`b.yaml: auth.oidc.issuers[2].signing_algs[0]: must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, got "none"`,
				`b.yaml: auth.oidc.issuers[2].signing_algs[2]: must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, got "HS256"`,
				`b.yaml: auth.oidc.issuers[2].claims_to_keep[0]: must be a claim name, got "a b"`,
				`b.yaml: auth.oidc.issuers[3].name: duplicate issuer name "github"`,
				`b.yaml: auth.oidc.issuers[3].jwks_url: must be an https URL, got "ftp://x"`,
				"b.yaml: auth.oidc.issuers[3].audience: is required when auth.oidc.audience is not set",
				`b.yaml: auth.oidc.issuers[4].preset: must be github, gitlab, kubernetes or empty, got "azure"`,
				"b.yaml: auth.oidc.issuers[4].audience: is required when auth.oidc.audience is not set",
			},
		},
		{
			name: "scopes",
			doc: `
database: {url: postgres://broker@localhost/x}
upstreams: {legacy: {token_env: ADMIN, user_id: u}}
auth: {api_keys: [{name: ci, key_env: CI_KEY}]}
purposes:
  - name: members
    delivery: proxy
    upstream: {kind: legacy}
    allow: {api_keys: [ci]}
    scope:
      networks: ["8056C2E21C000001"]
      rules:
        - name: authorize
          operations: ["POST /api/v1/network/{network}/member/{member}", "POST /api/v1/user/{id}/token"]
          when: "fields.all(f, f in ['config.authorized']) &&\n  body.config.authorized = true"
        - {name: read, operations: ["GET /api/v2/network"]}
  - name: empty
    delivery: proxy
    upstream: {kind: legacy}
    allow: {api_keys: [ci]}
    scope: {}
`,
			want: []string{
				`b.yaml: purposes[0].scope.networks[0]: "8056C2E21C000001" is not a network id (16 lowercase hex digits)`,
				`b.yaml: purposes[0].scope.rules[0].operations[1]: rule "authorize" of purpose "members": POST /api/v1/user/{id}/token can create or change credentials and is never forwarded, whatever the rules say`,
				`b.yaml: purposes[0].scope.rules[0].when: rule "authorize" of purpose "members": 2:26: Syntax error: token recognition error at: '= '; 2:28: Syntax error: extraneous input 'true' expecting <EOF>`,
				`b.yaml: purposes[0].scope.rules[1].operations[0]: rule "read" of purpose "members": GET /api/v2/network is a New Central (/api/v2) operation, but this purpose's upstream speaks Legacy Central (/api/v1)`,
				"b.yaml: purposes[1].scope.rules: no rules: a proxy purpose needs at least one, or it allows nothing",
			},
		},
		{
			name: "seal key",
			doc: `
database: {url: postgres://broker@localhost/x}
upstreams: {legacy: {token_env: ADMIN, user_id: u}}
auth: {api_keys: [{name: ci, key_env: CI_KEY}]}
idempotency: {seal_key_env: SHORT_KEY}
purposes: [{name: deploy, upstream: {kind: legacy}, allow: {api_keys: [ci]}}]
`,
			want: []string{"b.yaml: idempotency.seal_key_env: seal key must decode to 32 bytes, got 3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := server.ParseConfig("b.yaml", []byte(tt.doc), opts)
			if err == nil {
				t.Fatalf("ParseConfig succeeded: %+v", c)
			}
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCompilePolicyFromExample compiles the documented example's policy
// and asks it about a caller the file's rule admits.
func TestCompilePolicyFromExample(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"ZT_CENTRAL_ADMIN_KEY": "central-admin-secret", "BROKER_DATABASE_URL": "postgres://broker:hunter2@db/ztbroker",
		"BROKER_SEAL_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "BROKER_OPS_KEY": "ops-secret",
	}
	c, err := server.LoadConfig("../config/testdata/broker.yaml", config.Options{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := server.CompilePolicy(c.Purposes[0])
	if err != nil {
		t.Fatal(err)
	}
	d := pol.Decide(&auth.Identity{Kind: auth.KindOIDC, Subject: "github/x", Claims: map[string]any{
		"repository": "acme/infra", "ref": "refs/heads/main",
	}})
	if d.Rule != "infra-main" || d.MaxTTL != 30*time.Minute {
		t.Errorf("decision = %+v", d)
	}
}

// errorLines splits a joined error into its parts' messages.
func errorLines(err error) []string {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range j.Unwrap() {
		var fe *config.FieldError
		if !errors.As(e, &fe) {
			out = append(out, "not a FieldError: "+e.Error())
			continue
		}
		out = append(out, e.Error())
	}
	return out
}
