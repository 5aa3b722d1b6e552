package policycmd_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/cli/policycmd"
)

func TestRun(t *testing.T) {
	t.Parallel()
	cfg := "testdata/broker.yaml"
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantErrOut string
	}{
		{
			name:     "admitted by rule",
			args:     []string{"test", "--config", cfg, "--purpose", "ci-deploy", "--identity", "testdata/main-branch.json"},
			wantCode: 0,
			wantOut: `purpose ci-deploy: oidc:github/repo:acme/infra:ref:refs/heads/main ADMITTED by infra-main; leases up to 10m0s (default 10m0s)
  api_keys         no     identity kind is "oidc", not "api_key"
  subjects         no     no subjects listed
  infra-main       yes *  expression is true
  release-attempt  no     evaluation error: no such key: run_attempt
`,
		},
		{
			name:     "admitted by api key",
			args:     []string{"test", "--config", cfg, "--purpose", "ci-deploy", "--identity", "testdata/deployer.json"},
			wantCode: 0,
			wantOut: `purpose ci-deploy: api_key:deployer ADMITTED by api_keys; leases up to 1h0m0s (default 15m0s)
  api_keys         yes *  api key "deployer" is listed
  subjects         no     no subjects listed
  infra-main       no     evaluation error: no such key: repository
  release-attempt  no     evaluation error: no such key: run_attempt
`,
		},
		{
			name:     "denied",
			args:     []string{"test", "--config", cfg, "--purpose", "ci-deploy", "--identity", "testdata/feature-branch.json"},
			wantCode: 1,
			wantOut: `purpose ci-deploy: oidc:github/repo:acme/infra:ref:refs/heads/feature DENIED; no rule admits it
  api_keys         no  identity kind is "oidc", not "api_key"
  subjects         no  no subjects listed
  infra-main       no  expression is false
  release-attempt  no  evaluation error: no such key: environment
`,
		},
		{
			name:     "scope allows a rename",
			args:     []string{"test", "--config", cfg, "--purpose", "ci-members", "--request", "POST /api/v2/network/8056c2e21c000001/member/deadbeef00", "--body", "testdata/rename.json", "--label", "env=ci"},
			wantCode: 0,
			wantOut: `purpose ci-members: POST /api/v2/network/8056c2e21c000001/member/deadbeef00 ALLOWED by rule rename; forwards POST /api/v2/network/8056c2e21c000001/member/deadbeef00 with body {"name":"runner-7"}
  path            yes    canonical
  hard deny       yes    not a credential, identity or access route
  operation       yes    POST /api/v2/network/{network}/member/{member}
  body            yes    well formed
  networks        yes    network 8056c2e21c000001 allowed
  rule authorize  no     does not name POST /api/v2/network/{network}/member/{member}
  rule rename     yes *  condition is true
`,
		},
		{
			name:     "scope refuses a rename that bridges",
			args:     []string{"test", "--config", cfg, "--purpose", "ci-members", "--request", "POST /api/v2/network/8056c2e21c000001/member/deadbeef00", "--body", "testdata/bridge.json", "--label", "env=ci"},
			wantCode: 1,
			wantOut: `purpose ci-members: POST /api/v2/network/8056c2e21c000001/member/deadbeef00 DENIED (403 Forbidden): the scope of purpose "ci-members" does not allow POST /api/v2/network/{network}/member/{member}
  path            yes  canonical
  hard deny       yes  not a credential, identity or access route
  operation       yes  POST /api/v2/network/{network}/member/{member}
  body            yes  well formed
  networks        yes  network 8056c2e21c000001 allowed
  rule authorize  no   does not name POST /api/v2/network/{network}/member/{member}
  rule rename     no   condition is false
`,
		},
		{
			name:     "scope refuses an API key",
			args:     []string{"test", "--config", cfg, "--purpose", "ci-members", "--request", "POST /api/v2/service-account/sa-1/api-key"},
			wantCode: 1,
			wantOut: `purpose ci-members: POST /api/v2/service-account/sa-1/api-key DENIED (403 Forbidden): POST /api/v2/service-account/sa-1/api-key can create or change credentials and is never forwarded by the broker
  path       yes  canonical
  hard deny  no   the path can create or change credentials
`,
		},
		{
			name:     "admitted but the call is outside the scope",
			args:     []string{"test", "--config", cfg, "--purpose", "ci-members", "--identity", "testdata/deployer.json", "--request", "GET /api/v2/network/8056c2e21c000001/../8056c2e21c000002"},
			wantCode: 1,
			wantOut: `purpose ci-members: api_key:deployer ADMITTED by api_keys; leases up to 1h0m0s (default 15m0s)
  api_keys  yes *  api key "deployer" is listed
  subjects  no     no subjects listed
purpose ci-members: GET /api/v2/network/8056c2e21c000001/../8056c2e21c000002 DENIED (400 Bad Request): the request target is not canonical: lowercase path segments of [a-z0-9-] under /api/v1 or /api/v2, no empty or dot segments, no encoded characters, a query of unique key=value pairs
  path  no  non-canonical request target: has a character outside [a-z0-9-] in a path segment
`,
		},
		{
			name:       "request on a token purpose",
			args:       []string{"test", "--config", cfg, "--purpose", "ci-deploy", "--request", "GET /api/v2/network"},
			wantCode:   2,
			wantErrOut: "testdata/broker.yaml: purpose \"ci-deploy\" has delivery token: it hands out ZeroTier tokens and has no scope to test\n",
		},
		{
			name:       "malformed request line",
			args:       []string{"test", "--config", cfg, "--purpose", "ci-members", "--request", "/api/v2/network"},
			wantCode:   2,
			wantErrOut: "--request \"/api/v2/network\" must be 'METHOD /path', e.g. 'GET /api/v2/network'\n",
		},
		{
			name:       "body without a request",
			args:       []string{"test", "--config", cfg, "--purpose", "ci-members", "--identity", "testdata/deployer.json", "--body", "testdata/rename.json"},
			wantCode:   2,
			wantErrOut: usageText,
		},
		{
			name:       "unknown purpose",
			args:       []string{"test", "--config", cfg, "--purpose", "nope", "--identity", "testdata/deployer.json"},
			wantCode:   2,
			wantErrOut: "testdata/broker.yaml: no purpose named \"nope\"\n",
		},
		{
			name:       "identity typo",
			args:       []string{"test", "--config", cfg, "--purpose", "ci-deploy", "--identity", "testdata/typo.json"},
			wantCode:   2,
			wantErrOut: "testdata/typo.json: json: unknown field \"subjct\"\n",
		},
		{
			name:     "bad rule in config",
			args:     []string{"test", "--config", "testdata/bad-rule.yaml", "--purpose", "p", "--identity", "testdata/deployer.json"},
			wantCode: 2,
			wantErrOut: "testdata/bad-rule.yaml: purposes[0].allow.rules[0].expr: rule \"r\" of purpose \"p\": " +
				"1:12: Syntax error: token recognition error at: '= '; 1:14: Syntax error: extraneous input '1' expecting <EOF>\n",
		},
		{
			name:       "missing flag",
			args:       []string{"test", "--config", cfg},
			wantCode:   2,
			wantErrOut: usageText,
		},
		{
			name:       "no subcommand",
			args:       nil,
			wantCode:   2,
			wantErrOut: usageText,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := policycmd.Run(tt.args, &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if diff := cmp.Diff(tt.wantOut, out.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErrOut, errOut.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

const usageText = `usage: broker policy test --config FILE --purpose NAME --identity FILE.json
       broker policy test --config FILE --purpose NAME --request 'METHOD /path' [--body FILE.json] [--label k=v]...

With --identity, evaluates the purpose's admission policy for the identity
and prints which rule admits it, or why each rule does not. The identity
file is JSON:

  {"kind": "oidc", "subject": "github/repo:acme/infra:ref:refs/heads/main",
   "claims": {"repository": "acme/infra", "ref": "refs/heads/main"}}

kind is api_key, mtls or oidc.

With --request, evaluates a proxy purpose's scope for one call, as a lease
holder would send it through the broker (the path as on ZeroTier Central,
e.g. 'POST /api/v2/network/8056c2e21c000001/member/deadbeef00/authorize'),
with the body read from --body and the lease's labels from --label, and
prints whether it is allowed and why, step by step. Both may be given.

Secrets named in the config are not read.
Exit status: 0 admitted (and allowed), 1 denied, 2 usage or config error.
`
