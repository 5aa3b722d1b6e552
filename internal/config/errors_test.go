package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/config"
)

// TestErrors checks the exact message of each problem: the file, the field
// path, and what is wrong. Every document yields all its errors at once.
func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{
			name: "yaml syntax",
			doc:  "listen: [\n",
			want: []string{"b.yaml: invalid YAML: yaml: line 1: did not find expected node content"},
		},
		{
			name: "duplicate key",
			doc:  minimal + "    default_ttl: 5m\n    default_ttl: 6m\n",
			want: []string{`b.yaml: invalid YAML: yaml: unmarshal errors:` + "\n" + `  line 15: key "default_ttl" already set in map`},
		},
		{
			name: "not a mapping",
			doc:  "- a\n",
			want: []string{"b.yaml: must be a mapping, got a list"},
		},
		{
			name: "unknown and mistyped fields, all reported",
			doc: minimal + "    max_tll: 1h\n    default_ttl: 15\n    quota: {max_active: lots}\n" +
				"listen: {grpc_addr: [1], tls: {cert: x}}\nextra: 1\n",
			want: []string{
				"b.yaml: extra: unknown field",
				"b.yaml: listen.grpc_addr: must be a string, got a list",
				"b.yaml: listen.tls.cert: unknown field",
				`b.yaml: purposes[0].default_ttl: must be a duration string such as "15m", got a number`,
				"b.yaml: purposes[0].max_tll: unknown field",
				"b.yaml: purposes[0].quota.max_active: must be a whole number, got a string",
			},
		},
		{
			name: "bad duration text",
			doc:  minimal + "    max_ttl: 1 hour\n",
			want: []string{`b.yaml: purposes[0].max_ttl: must be a duration such as "15m", "1h30m" or "30d", got "1 hour"`},
		},
		{
			name: "admin credential settings",
			doc: doc(map[string]string{"upstreams": `
  new_central:
    admin_key_file: /run/secrets/admin
    foreign_keys: ignore
    max_response_bytes: 1000
    expiry_warning: -1h
    credential_poll_interval: 1m
    rotate: {before: 72h, lifetime: 48h, grace: 30s}
  legacy:
    token_file: /run/secrets/legacy
    foreign_keys: delete`}),
			want: []string{
				`b.yaml: upstreams.new_central.foreign_keys: must be alarm or delete, got "ignore"`,
				"b.yaml: upstreams.new_central.max_response_bytes: must be between 1 MiB and 1 GiB, got 1000",
				"b.yaml: upstreams.new_central.expiry_warning: must not be negative, got -1h0m0s",
				"b.yaml: upstreams.new_central.rotate: needs idempotency.seal_key_env or seal_key_file: the new admin key is stored sealed with it, for every replica to read",
				"b.yaml: upstreams.new_central.rotate.lifetime: must be longer than rotate.before (72h0m0s), or every new key would be due at once",
				"b.yaml: upstreams.new_central.rotate.grace: must be longer than credential_poll_interval (1m0s), so every replica switches before the old key is deleted",
				"b.yaml: upstreams.legacy.admin_token_name: is required with foreign_keys: delete",
			},
		},
		{
			name: "ttl ordering",
			doc:  minimal + "    default_ttl: 15m\n    max_ttl: 10m\n",
			want: []string{"b.yaml: purposes[0].max_ttl: must be at least default_ttl (15m0s)"},
		},
		{
			name: "ttl bounds",
			doc:  minimal + "    default_ttl: -1m\n    max_ttl: 200h\n",
			want: []string{
				"b.yaml: purposes[0].default_ttl: must be positive, got -1m0s",
				"b.yaml: purposes[0].max_ttl: must be at most 168h0m0s, got 200h0m0s",
			},
		},
		{
			name: "empty document",
			doc:  "",
			want: []string{
				"b.yaml: database.url: is required (or url_env)",
				"b.yaml: auth: no authentication method configured: set api_keys, oidc or mtls",
				"b.yaml: purposes: must list at least one purpose",
			},
		},
		{
			name: "purpose problems",
			doc: `
database: {url_env: DB}
auth:
  api_keys: [{name: ci, key_env: CI_KEY}]
purposes:
  - name: Deploy_1
    upstream: {kind: legacy, service_account_id: x}
    allow:
      api_keys: [ci, nobody]
      subjects: ["mtls:svc", "oidc:gh/repo:x", "nokind"]
      rules:
        - {name: r1, expr: "claims.ref ==", max_ttl: 2h}
        - {name: r2, expr: "identity.subject"}
    quota: {max_active: 2, max_active_per_caller: 3, max_issues_per_minute: -1}
  - name: deploy-2
    upstream: {kind: new_central}
    allow: {}
  - name: deploy-2
    upstream: {kind: v3}
    allow: {api_keys: [ci]}
`,
			want: []string{
				"b.yaml: database.url_env: environment variable DB is not set",
				"b.yaml: auth.api_keys[0].key_env: environment variable CI_KEY is not set",
				`b.yaml: purposes[0].name: must be 1-63 of [a-z0-9-], not starting or ending with -, got "Deploy_1"`,
				"b.yaml: purposes[0].allow.rules[0].max_ttl: must be at most the purpose's max_ttl (1h0m0s)",
				"b.yaml: purposes[0].upstream.kind: is legacy but no legacy upstream is configured: add one under upstreams",
				`b.yaml: purposes[0].allow.api_keys[1]: api key "nobody" is not configured in auth.api_keys`,
				"b.yaml: purposes[0].quota.max_issues_per_minute: must not be negative (0 means unlimited), got -1",
				"b.yaml: purposes[0].quota.max_active_per_caller: must not exceed max_active (2)",
				"b.yaml: purposes[1].upstream.kind: is new_central but no new_central upstream is configured: add one under upstreams",
				"b.yaml: purposes[1].allow: admits no one: list api_keys, subjects or rules",
				`b.yaml: purposes[2].name: duplicate purpose "deploy-2"`,
				`b.yaml: purposes[2].upstream.kind: must be new_central or legacy, got "v3"`,
			},
		},
		{
			name: "named upstreams",
			doc: `
database: {url_env: DB}
auth:
  api_keys: [{name: ci, key_env: CI_KEY}]
upstreams:
  - {name: prod, kind: new_central, admin_key_env: PROD_KEY}
  - {name: prod, kind: legacy, token_env: OLD_TOKEN}
  - {name: Staging!, kind: new_central, admin_key_env: STAGING_KEY, service_account_id: sa-s}
  - {name: x, kind: v2, admin_key_env: X}
  - {name: why, admin_key_env: Y}
  - {kind: legacy, token_env: OLD_TOKEN, service_account_id: sa-1}
  - just-a-name
purposes:
  - {name: a, upstream: nowhere, allow: {api_keys: [ci]}}
  - {name: b, upstream: {name: prod, kind: legacy}, allow: {api_keys: [ci]}}
  - {name: c, upstream: {kind: new_central}, allow: {api_keys: [ci]}}
  - {name: d, upstream: prod, allow: {api_keys: [ci]}}
  - {name: e, allow: {api_keys: [ci]}}
`,
			want: []string{
				"b.yaml: upstreams[3].kind: must be new_central or legacy, got \"v2\"",
				"b.yaml: upstreams[4].kind: is required (new_central or legacy)",
				"b.yaml: upstreams[5].service_account_id: unknown field",
				"b.yaml: upstreams[6]: must be a mapping, got a string",
			},
		},
		{
			name: "named upstreams and the purposes on them",
			doc: `
database: {url_env: DB}
auth:
  api_keys: [{name: ci, key_env: CI_KEY}]
upstreams:
  - {name: prod, kind: new_central, admin_key_env: PROD_KEY}
  - {name: prod, kind: legacy, token_env: OLD_TOKEN}
  - {name: Staging!, kind: new_central, admin_key_env: STAGING_KEY, service_account_id: sa-s}
  - {kind: legacy, token_env: OLD_TOKEN}
purposes:
  - {name: a, upstream: nowhere, allow: {api_keys: [ci]}}
  - {name: b, upstream: {name: prod, kind: legacy}, allow: {api_keys: [ci]}}
  - {name: c, upstream: {kind: new_central}, allow: {api_keys: [ci]}}
  - {name: d, upstream: prod, allow: {api_keys: [ci]}}
  - {name: e, allow: {api_keys: [ci]}}
  - {name: f, upstream: {name: prod, kind: new_central, service_account_id: sa-1}, allow: {api_keys: [ci]}}
`,
			want: []string{
				"b.yaml: database.url_env: environment variable DB is not set",
				"b.yaml: upstreams[0].admin_key_env: environment variable PROD_KEY is not set",
				`b.yaml: upstreams[1].name: duplicate upstream name "prod" (also upstreams[0])`,
				"b.yaml: upstreams[1].token_env: environment variable OLD_TOKEN is not set",
				`b.yaml: upstreams[2].name: must be 1-63 of [a-z0-9_-], not starting or ending with - or _, got "Staging!"`,
				"b.yaml: upstreams[2].admin_key_env: environment variable STAGING_KEY is not set",
				"b.yaml: upstreams[3].name: is required",
				"b.yaml: upstreams[3].token_env: environment variable OLD_TOKEN is not set",
				"b.yaml: auth.api_keys[0].key_env: environment variable CI_KEY is not set",
				`b.yaml: purposes[0].upstream.name: upstream "nowhere" is not configured (upstreams: prod, prod, Staging!, )`,
				`b.yaml: purposes[1].upstream.kind: is "legacy" but upstream prod is new_central`,
				"b.yaml: purposes[2].upstream.name: is required when several upstreams are configured: name one of prod, Staging!",
				"b.yaml: purposes[3].upstream.service_account_id: is required: upstream prod sets no service_account_id for its purposes",
				"b.yaml: purposes[4].upstream.name: is required when several upstreams are configured: name one of prod, prod, Staging!, ",
			},
		},
		{
			name: "the older upstreams form",
			doc: `
upstreams:
  new_central: {admin_key_env: K}
  v3: {admin_key_env: K}
purposes:
  - {name: a, upstream: {kind: new_central, service_account_id: sa-1}, allow: {api_keys: [ci]}}
`,
			want: []string{
				"b.yaml: upstreams.v3: unknown field; upstreams is a list of named upstreams, e.g. upstreams: [{name: prod, kind: new_central, admin_key_env: ZT_PROD_KEY}, {name: old, kind: legacy, token_env: ZT_LEGACY_TOKEN}]",
			},
		},
		{
			name: "upstreams neither list nor mapping",
			doc: `
upstreams: prod
purposes:
  - {name: a, upstream: prod, allow: {api_keys: [ci]}}
`,
			want: []string{
				"b.yaml: upstreams: must be a list, got a string; upstreams is a list of named upstreams, e.g. upstreams: [{name: prod, kind: new_central, admin_key_env: ZT_PROD_KEY}, {name: old, kind: legacy, token_env: ZT_LEGACY_TOKEN}]",
			},
		},
		{
			name: "listen and database",
			doc: doc(map[string]string{
				"listen": `
  grpc_addr: "localhost"
  http_addr: "0.0.0.0:99999"
  max_body_bytes: -1
  limits: {max_connections: 100, max_connections_per_address: 200}
  tls: {client_auth: sometimes}`,
				"database": `
  url: postgres://broker:hunter2@db/ztbroker
  max_conns: 5000`,
				"log": "{format: xml, level: loud}",
			}),
			want: []string{
				`b.yaml: listen.grpc_addr: must be host:port, got "localhost"`,
				`b.yaml: listen.http_addr: port must be a number from 0 to 65535, got "99999"`,
				"b.yaml: listen.max_body_bytes: must be between 1 and 67108864",
				"b.yaml: listen.limits.max_connections_per_address: must be between 0 and 100, got 200",
				"b.yaml: listen.tls.cert_file: is required",
				"b.yaml: listen.tls.key_file: is required",
				`b.yaml: listen.tls.client_auth: must be none, request or require, got "sometimes"`,
				"b.yaml: database.max_conns: must be between 1 and 1000, got 5000",
				`b.yaml: log.format: must be json or text, got "xml"`,
				`b.yaml: log.level: must be debug, info, warn or error, got "loud"`,
			},
		},
		{
			name: "tls client auth pairing",
			doc: doc(map[string]string{
				"listen": "{tls: {cert_file: c, key_file: k, client_ca_file: ca}}",
				"auth": `
  api_keys: [{name: ci, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae}]
  mtls: {enabled: true}`,
			}),
			want: []string{
				"b.yaml: listen.tls.client_auth: is none, so client_ca_file would be ignored; set request or require",
				"b.yaml: auth.mtls.enabled: needs listen.tls with client_auth request or require",
			},
		},
		{
			name: "upstreams",
			doc: doc(map[string]string{"upstreams": `
  new_central:
    base_url: http://central.example.com
    admin_key_env: ADMIN
    admin_key_file: /run/secrets/admin
    rate_limit: -5
    paths: {create_key: "api/{sa}", delete_key: "/api/v2/api-key"}
  legacy:
    base_url: "https://user:pw@api.zerotier.com"
    token_env: NOT_SET
    auth_scheme: Basic
    paths: {delete_token: "/user/{id}/token"}`}),
			want: []string{
				`b.yaml: upstreams.new_central.base_url: must be https (http only for loopback, or with allow_http), got "http://central.example.com"`,
				"b.yaml: upstreams.new_central.admin_key_env: set admin_key_env or admin_key_file, not both",
				"b.yaml: upstreams.new_central.rate_limit: must be positive, got -5",
				`b.yaml: upstreams.new_central.paths.create_key: must start with /, got "api/{sa}"`,
				"b.yaml: upstreams.new_central.paths.create_key: unknown placeholder {sa} (allowed: {id})",
				"b.yaml: upstreams.new_central.paths.create_key: must contain {id}",
				"b.yaml: upstreams.new_central.paths.delete_key: must contain {id}",
				"b.yaml: upstreams.legacy.base_url: must not carry credentials",
				"b.yaml: upstreams.legacy.token_env: environment variable NOT_SET is not set",
				`b.yaml: upstreams.legacy.auth_scheme: must be token or bearer, got "basic"`,
				"b.yaml: upstreams.legacy.paths.delete_token: must contain {name}",
			},
		},
		{
			name: "secret file problems",
			doc:  strings.Replace(minimal, "/run/secrets/admin", "/missing/admin", 1),
			want: []string{"b.yaml: upstreams.new_central.admin_key_file: open /missing/admin: file does not exist"},
		},
		{
			name: "auth",
			doc: doc(map[string]string{"auth": `
  api_keys:
    - {name: ci, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae}
    - {name: ci, sha256: 2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE}
    - {name: "Bad Name", sha256: abc}
    - {name: both, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, key_env: X}
    - {name: none}
  admins: ["api_key:ghost", "oidc:nowhere/x", "robot:x"]
  oidc:
    clock_skew: 10m
    issuers:
      - {preset: github}
      - {preset: kubernetes}
      - {issuer_url: "http://idp.example.com", signing_algs: [none, RS256, HS256], claims_to_keep: ["a b"]}
      - {preset: gitlab, name: github, jwks_url: "ftp://x"}
      - {preset: azure}`}),
			want: []string{
				`b.yaml: auth.api_keys[1].name: duplicate api key name "ci"`,
				`b.yaml: auth.api_keys[1]: has the same key as "ci"`,
				`b.yaml: auth.api_keys[2].name: must be 1-63 of [a-z0-9_.-], got "Bad Name"`,
				"b.yaml: auth.api_keys[2].sha256: must be 64 hex characters",
				"b.yaml: auth.api_keys[3]: set sha256 or key_env, not both",
				"b.yaml: auth.api_keys[4].sha256: is required (or key_env)",
			},
		},
		{
			name: "workers, idempotency, tokens",
			doc: doc(map[string]string{
				"workers":     "{revoke_batch_size: -1, revoke_backoff_base: 10m, revoke_backoff_max: 1m, claim_timeout: -1s}",
				"idempotency": "{seal_key_env: SHORT_KEY, replay_window: 48h}",
				"tokens":      `{name_prefix: "ZT_"}`,
			}),
			want: []string{
				"b.yaml: workers.revoke_batch_size: must be between 1 and 1000, got -1",
				"b.yaml: workers.claim_timeout: must be positive, got -1s",
				"b.yaml: workers.revoke_backoff_max: must be at least revoke_backoff_base (10m0s)",
				"b.yaml: idempotency.replay_window: must be between 0 and 24h0m0s, got 48h0m0s",
				`b.yaml: tokens.name_prefix: must be 1-32 of [a-z0-9-], not starting or ending with -, got "ZT_"`,
			},
		},
		{
			name: "retention bounds",
			doc: doc(map[string]string{
				"retention": "{leases: 30m, audit: 720h, interval: 48h, batch_size: 20000}",
			}),
			want: []string{
				"b.yaml: retention.leases: must be at least 1h0m0s, got 30m0s",
				"b.yaml: retention.audit: must be at least 744h0m0s (31 days): audit events are kept in monthly " +
					"partitions and the current and the previous month always stay, got 720h0m0s",
				"b.yaml: retention.interval: must be between 1s and 24h, got 48h0m0s",
				"b.yaml: retention.batch_size: must be between 1 and 10000, got 20000",
			},
		},
		{
			name: "lease retention shorter than the replay window",
			doc: doc(map[string]string{
				"idempotency": "{replay_window: 3h}",
				"retention":   "{leases: 2h}",
			}),
			want: []string{"b.yaml: retention.leases: must be at least idempotency.replay_window (3h0m0s), got 2h0m0s"},
		},
		{
			name: "retention in years",
			doc:  doc(map[string]string{"retention": "{audit: 1y}"}),
			want: []string{`b.yaml: retention.audit: must be a duration such as "15m", "1h30m" or "30d", got "1y"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions()
			env := exampleEnv()
			env["SHORT_KEY"] = "YWJj"
			opts.LookupEnv = fakeEnv(env)
			c, err := config.ParseWith("b.yaml", []byte(tt.doc), opts)
			if err == nil {
				t.Fatalf("ParseWith succeeded: %+v", c)
			}
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
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
