package configcmd

import "text/template"

// starter is the configuration `config init` writes. Every value that
// serve needs is set; everything else is left to its default and named in
// a comment, so the file stays short and the reference
// (docs/configuration.md) holds the rest.
var starter = template.Must(template.New("broker.yaml").Parse(`# ztbroker configuration, written by "broker config init".
# Check it with "broker config check FILE"; every key and its default is in
# docs/configuration.md. Secrets are never written here: *_env names an
# environment variable, *_file a file (relative to this file).

listen:
  grpc_addr: {{.GRPCAddr}}     # the API, for broker token/exec/agent and gRPC clients
  http_addr: {{.HTTPAddr}}     # REST under /v1/, /metrics, /healthz, /readyz, /openapi.json

database:
  # A PostgreSQL connection string, e.g.
  #   postgres://ztbroker@/ztbroker?host=/var/run/postgresql
  url_env: BROKER_DATABASE_URL
  # verify: serve only checks that the schema is current, so it can run as a
  # role that reads and writes rows and nothing more; "broker migrate" runs
  # as the schema's owner. apply (the default) lets serve migrate itself.
  migrations: verify

log:
  format: json                  # json | text
  level: info                   # debug | info | warn | error

# Each entry is one ZeroTier organisation (New Central) or account (Legacy);
# purposes name theirs. Leases record the name: keep it while leases live.
upstreams:
{{- if eq .Upstream "new-central"}}
  - name: new_central
    kind: new_central
    # ZeroTier Central's New Central API; for the emulator ("broker emulator")
    # http://127.0.0.1:8089.
    base_url: {{.BaseURL}}
    # An admin API key of your organisation, allowed to create and delete
    # API keys of the service account below.
    admin_key_env: ZT_CENTRAL_ADMIN_KEY
    # The service account whose API keys the purposes on this upstream mint
    # (the emulator seeds sa-emulator unless told otherwise with
    # --service-account).
    service_account_id: {{.ServiceAccount}}
{{- else}}
  - name: legacy
    kind: legacy
    # ZeroTier Central's Legacy API; for the emulator ("broker emulator")
    # http://127.0.0.1:8089/api/v1.
    base_url: {{.BaseURL}}
    # The API token of the user whose tokens the broker mints and deletes.
    token_env: ZT_LEGACY_TOKEN
{{- if .LegacyUser}}
    user_id: {{.LegacyUser}}
{{- else}}
    # user_id: discovered from the token at start-up when left out.
{{- end}}
{{- end}}

purposes:
  - name: deploy
    description: Short-lived tokens for deployment jobs.
    default_ttl: 15m
    max_ttl: 1h
{{- if eq .Upstream "new-central"}}
    upstream: new_central
{{- else}}
    upstream: legacy
{{- end}}
    allow:
      api_keys: [ci]
{{- if .OIDC}}
      rules:
{{- if eq .OIDC "github"}}
        # GitHub Actions jobs of one repository's main branch.
        - name: main-branch
          expr: claims.repository == "OWNER/REPO" && claims.ref == "refs/heads/main"
{{- else if eq .OIDC "gitlab"}}
        # GitLab CI jobs of one project's protected main branch.
        - name: main-branch
          expr: claims.project_path == "GROUP/PROJECT" && claims.ref == "main" && claims.ref_protected == "true"
{{- else}}
        # Pods running as one service account.
        - name: deployer
          expr: claims.sub == "system:serviceaccount:NAMESPACE:SERVICEACCOUNT"
{{- end}}
{{- end}}

auth:
  api_keys:
    - name: ci
{{- if .APIKeySHA256}}
      # The SHA-256 of the key written to {{.APIKeyFile}}; the key itself is
      # not kept here.
      sha256: {{.APIKeySHA256}}
{{- else}}
      # The broker hashes this variable's value at start-up. Or write the
      # key's SHA-256 instead: sha256: <printf %s "$KEY" | sha256sum>
      key_env: BROKER_CI_API_KEY
{{- end}}
  # Owners that may use "broker admin" and see every lease.
  admins: ["api_key:ci"]
{{- if .OIDC}}
  oidc:
    audience: ztbroker          # the aud callers ask their token for
    issuers:
      - preset: {{.OIDC}}
        name: {{.OIDC}}         # owners read oidc:{{.OIDC}}/<subject>
{{- if eq .OIDC "kubernetes"}}
        # The cluster's service-account token issuer (kubectl get --raw
        # /.well-known/openid-configuration | jq -r .issuer).
        issuer_url: https://kubernetes.default.svc.cluster.local
        # In the cluster, verify the API server with the pod's CA:
        # ca_file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
{{- end}}
{{- end}}

idempotency:
  # A retried "token issue" gets the same token back only when the broker can
  # seal it: a base64 32-byte key ("broker config init --seal-key-file").
{{- if .SealKeyFile}}
  seal_key_file: {{.SealKeyFile}}
{{- else}}
  # seal_key_file: seal.key
{{- end}}
`))

// starterData fills starter.
type starterData struct {
	GRPCAddr       string
	HTTPAddr       string
	Upstream       string // new-central or legacy
	BaseURL        string
	ServiceAccount string
	LegacyUser     string
	OIDC           string // "", github, gitlab or kubernetes
	SealKeyFile    string
	APIKeyFile     string
	APIKeySHA256   string
}
