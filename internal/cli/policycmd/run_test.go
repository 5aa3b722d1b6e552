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

Evaluates the purpose's policy for the identity and prints which rule
admits it, or why each rule does not. The identity file is JSON:

  {"kind": "oidc", "subject": "github/repo:acme/infra:ref:refs/heads/main",
   "claims": {"repository": "acme/infra", "ref": "refs/heads/main"}}

kind is api_key, mtls or oidc. Secrets named in the config are not read.
Exit status: 0 admitted, 1 denied, 2 usage or config error.
`
