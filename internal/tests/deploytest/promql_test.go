package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metricsql"
	"sigs.k8s.io/yaml"
)

// targetLabels are added by the scrape (Prometheus, or the Prometheus
// Operator's ServiceMonitor), not by the code.
var targetLabels = []string{"job", "instance", "pod", "namespace", "service", "container", "endpoint"}

// pending are metrics the rules use before the code registers them, with
// the labels expected. An entry must go once the metric exists: the test
// fails then, and when a metric like it appears under another name.
var pending = map[string]metric{}

// query is one PromQL expression and where it comes from.
type query struct {
	where, expr string
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(b, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return rf
}

func ruleQueries(t *testing.T) []query {
	t.Helper()
	var out []query
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			out = append(out, query{where: "rule " + r.Alert + r.Record, expr: r.Expr})
		}
	}
	return out
}

type dashboard struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// labelValues is a Grafana variable query, label_values(selector, label).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// dashboardQueries returns every panel query, and each variable query as
// an expression that uses the label it lists.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	d := readDashboard(t)
	var out []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, query{where: "panel " + p.Title, expr: tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
			continue
		}
		out = append(out, query{where: "variable " + v.Name, expr: fmt.Sprintf("count by (%s) (%s)", m[2], m[1])})
	}
	return out
}

// grafanaVar is a dashboard variable in a query.
var grafanaVar = regexp.MustCompile(`\$\{?(\w+)\}?`)

// promQL replaces Grafana's variables: intervals by a duration, the
// others (used only inside label matchers) by a regular expression.
func promQL(q query) string {
	return grafanaVar.ReplaceAllStringFunc(q.expr, func(v string) string {
		switch strings.Trim(v, "${}") {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		}
		return ".+"
	})
}

// checkQuery parses q and reports every metric it names that the code
// does not register, and every label it matches or groups by that the
// metrics beneath do not carry. It returns the metrics it names.
func checkQuery(t *testing.T, q query, known map[string]metric) []string {
	t.Helper()
	e, err := metricsql.Parse(promQL(q))
	if err != nil {
		t.Errorf("%s: %v\n%s", q.where, err, q.expr)
		return nil
	}
	var names []string
	metricsql.VisitAll(e, func(x metricsql.Expr) {
		switch x := x.(type) {
		case *metricsql.MetricExpr:
			for _, group := range x.LabelFilterss {
				name, labels, ok := resolve(t, q, group, known)
				if !ok {
					continue
				}
				names = append(names, name)
				for _, f := range group {
					if f.Label != "__name__" && !slices.Contains(labels, f.Label) {
						t.Errorf("%s: %s has no label %q (it has %v)\n%s", q.where, name, f.Label, labels, q.expr)
					}
				}
			}
		case *metricsql.AggrFuncExpr:
			checkGrouping(t, q, x.Modifier.Args, x, known)
		case *metricsql.BinaryOpExpr:
			checkGrouping(t, q, x.GroupModifier.Args, x, known)
			checkGrouping(t, q, x.JoinModifier.Args, x, known)
		}
	})
	return names
}

// resolve finds the metric a selector names, allowing a histogram's
// _bucket, _count and _sum series, and returns the labels a series of it
// carries.
func resolve(t *testing.T, q query, group []metricsql.LabelFilter, known map[string]metric) (string, []string, bool) {
	t.Helper()
	var name string
	for _, f := range group {
		if f.Label == "__name__" && !f.IsRegexp && !f.IsNegative {
			name = f.Value
		}
	}
	if name == "" {
		t.Errorf("%s: a selector without a plain metric name; this test cannot check it\n%s", q.where, q.expr)
		return "", nil, false
	}
	withTargets := func(m metric, extra ...string) []string {
		return append(append(slices.Clone(m.labels), targetLabels...), extra...)
	}
	if m, ok := known[name]; ok {
		if m.kind == "histogram" || m.kind == "summary" {
			t.Errorf("%s: %s is a %s; query its _bucket, _count or _sum series\n%s", q.where, name, m.kind, q.expr)
			return "", nil, false
		}
		return name, withTargets(m), true
	}
	for _, s := range []struct{ suffix, kinds, extra string }{
		{"_bucket", "histogram", "le"}, {"_count", "histogram summary", ""}, {"_sum", "histogram summary", ""},
	} {
		base, ok := strings.CutSuffix(name, s.suffix)
		if m, known := known[base]; ok && known && strings.Contains(s.kinds, m.kind) {
			return name, withTargets(m, s.extra), true
		}
	}
	if m, ok := pending[name]; ok {
		return name, withTargets(m), true
	}
	t.Errorf("%s: metric %s is not registered by the code\n%s", q.where, name, q.expr)
	return "", nil, false
}

// checkGrouping reports grouping labels (by, without, on, ignoring,
// group_left) that no metric beneath x carries.
func checkGrouping(t *testing.T, q query, labels []string, x metricsql.Expr, known map[string]metric) {
	t.Helper()
	if len(labels) == 0 {
		return
	}
	var carried []string
	metricsql.VisitAll(x, func(y metricsql.Expr) {
		if me, ok := y.(*metricsql.MetricExpr); ok {
			for _, group := range me.LabelFilterss {
				for _, f := range group {
					if f.Label != "__name__" {
						continue
					}
					if m, ok := known[f.Value]; ok {
						carried = append(carried, m.labels...)
					} else if m, ok := pending[f.Value]; ok {
						carried = append(carried, m.labels...)
					} else if strings.HasSuffix(f.Value, "_bucket") {
						carried = append(carried, append(known[strings.TrimSuffix(f.Value, "_bucket")].labels, "le")...)
					} else {
						base := strings.TrimSuffix(strings.TrimSuffix(f.Value, "_count"), "_sum")
						carried = append(carried, known[base].labels...)
					}
				}
			}
		}
	})
	carried = append(carried, targetLabels...)
	for _, l := range labels {
		if !slices.Contains(carried, l) {
			t.Errorf("%s: groups by %q, which no metric beneath carries (%v)\n%s", q.where, l, carried, q.expr)
		}
	}
}

// TestQueriesUseRegisteredMetrics keeps the alerting rules and the
// dashboard in step with the code: every metric they name is registered
// (or pending, with a reason), with the labels they use.
func TestQueriesUseRegisteredMetrics(t *testing.T) {
	t.Parallel()
	known := registeredMetrics(t)
	for name, p := range pending {
		if m, ok := known[name]; ok {
			t.Errorf("%s is registered now (%s); remove it from pending (%s)", name, m.at, p.at)
		}
	}
	sources := []struct {
		name    string
		queries []query
		// must name these, so the file keeps covering what it is for
		must []string
	}{
		{"alert rules", ruleQueries(t), []string{
			"ztbroker_leases_revoke_failed", "ztbroker_revoke_failures_total", // revocations failing
			"ztbroker_leases_expired_unrevoked_total",                                               // tokens expiring unrevoked
			"ztbroker_upstream_throttled_total", "ztbroker_upstream_request_duration_seconds_count", // upstream 429s and errors
			"ztbroker_ready", // readiness lost
			"ztbroker_upstream_credential_expiry_seconds",          // admin credential expiry
			"ztbroker_upstream_credential_rotations_total",         // admin key rotation failing
			"ztbroker_upstream_foreign_credentials",                // credentials the broker did not mint
			"ztbroker_upstream_foreign_credentials_detected_total", // new service accounts
		}},
		{"dashboard", dashboardQueries(t), []string{
			"ztbroker_tokens_issued_total",                      // issuance
			"ztbroker_revocation_lag_seconds_bucket",            // revocation lag
			"ztbroker_leases_active",                            // active leases per purpose
			"ztbroker_upstream_request_duration_seconds_bucket", // upstream latency
			"ztbroker_upstream_request_duration_seconds_count",  // upstream errors
			"ztbroker_requests_denied_total",                    // denials
		}},
	}
	used := map[string]bool{}
	for _, s := range sources {
		if len(s.queries) == 0 {
			t.Fatalf("%s: no queries found", s.name)
		}
		named := map[string]bool{}
		for _, q := range s.queries {
			for _, n := range checkQuery(t, q, known) {
				named[n], used[n] = true, true
			}
		}
		for _, m := range s.must {
			if !named[m] {
				t.Errorf("%s no longer use %s", s.name, m)
			}
		}
	}
	// A credential-expiry metric under a name the rule does not expect
	// would leave the alert silently waiting for a series that never
	// comes.
	for name, m := range known {
		if strings.Contains(name, "credential") && strings.Contains(name, "expir") && !used[name] {
			t.Errorf("%s (%s) looks like the admin credential's expiry; point ZtbrokerAdminCredentialExpiring at it and drop it from pending", name, m.at)
		}
	}
}

// TestRulesAreLabelled checks what routing and the on-call reader rely
// on: a severity, a summary and a description on every alert.
func TestRulesAreLabelled(t *testing.T) {
	t.Parallel()
	n := 0
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s", r.Alert, a)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no alerts found")
	}
}
