package deploytest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// tool finds an external program from the environment variable env or
// PATH. It fails, never skips, when there is none: scripts/test.sh
// provides both tools this package needs.
func tool(t *testing.T, env, name, how string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: set %s or put it on PATH (%s; ./scripts/test.sh does this)", name, env, how)
	}
	return p
}

func promtool(t *testing.T) string {
	return tool(t, "PROMTOOL", "promtool", "Debian: apt-get install prometheus, or source scripts/deploytools.sh and run promtool_ensure")
}

func run(t *testing.T, dir, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("%s %v: %v\n%s", filepath.Base(bin), args, err, out.String())
	}
}

// TestPromtoolCheckRules checks the alerting rules' syntax and templates.
func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	run(t, repoRoot, promtool(t), "check", "rules", "deploy/prometheus/ztbroker.rules.yaml")
}

// TestPromtoolTestRules runs the rules' unit tests: each alert firing on
// the series it is for and not on the ones it is not.
func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	run(t, repoRoot+"/deploy/prometheus", promtool(t), "test", "rules", "ztbroker.rules.test.yaml")
}

// TestDashboardQueriesArePromQL has Prometheus's own parser check every
// dashboard query, written as recording rules: the metric test parses
// them with a MetricsQL parser, which accepts more than PromQL.
func TestDashboardQueriesArePromQL(t *testing.T) {
	t.Parallel()
	var rules []map[string]string
	for i, q := range dashboardQueries(t) {
		rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query_%d", i), "expr": promQL(q)})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "dashboard.rules.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, repoRoot, promtool(t), "check", "rules", p)
}
