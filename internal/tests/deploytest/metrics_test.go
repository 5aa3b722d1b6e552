package deploytest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// metric is one metric the code registers.
type metric struct {
	name   string
	kind   string // counter, gauge, histogram, summary
	labels []string
	at     string // file:line of the definition
}

// optsKinds maps client_golang's option types to metric kinds.
var optsKinds = map[string]string{
	"CounterOpts": "counter", "GaugeOpts": "gauge", "HistogramOpts": "histogram", "SummaryOpts": "summary",
}

// forwarder is a function that defines a metric named by its first
// argument: its own Desc takes the name from a parameter, so the name is
// read at its callers, and the labels from the Desc in its package.
type forwarder struct {
	dir    string
	kind   string
	labels []string
}

var forwarders = map[string]forwarder{
	"leasegauge.New": {dir: "internal/store/leasegauge", kind: "gauge", labels: []string{"purpose"}},
}

// forwarderIn returns the forwarder whose package is dir.
func forwarderIn(dir string) (forwarder, bool) {
	for _, f := range forwarders {
		if f.dir == dir {
			return f, true
		}
	}
	return forwarder{}, false
}

// registeredMetrics reads every metric definition in the module's
// production code: prometheus.*Opts literals (with the label list of the
// New*Vec call around them), prometheus.NewDesc calls, and calls of the
// forwarders. A definition whose name is not a string literal fails the
// test rather than being missed.
func registeredMetrics(t *testing.T) map[string]metric {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string]metric{}
	add := func(m metric) {
		if prev, ok := out[m.name]; ok && prev.at != m.at {
			if prev.kind != m.kind || !slices.Equal(prev.labels, m.labels) {
				t.Errorf("metric %s is defined twice, differently: %s and %s", m.name, prev.at, m.at)
			}
			return
		}
		out[m.name] = m
	}
	for _, top := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, path)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				// Test support and tests of the whole register nothing
				// the broker serves.
				if d.Name() == "testdata" || rel == "internal/testing" || rel == "internal/tests" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			fw, inForwarder := forwarderIn(filepath.ToSlash(filepath.Dir(rel)))
			scanFile(t, fset, f, fw, inForwarder, add)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) == 0 {
		t.Fatal("found no metric definitions; the scan is broken")
	}
	return out
}

func scanFile(t *testing.T, fset *token.FileSet, f *ast.File, own forwarder, inForwarder bool, add func(metric)) {
	// Labels come from the New*Vec call that wraps an Opts literal.
	vecLabels := map[*ast.CompositeLit][]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		name := selectorName(call.Fun)
		if strings.HasPrefix(name, "prometheus.New") && strings.HasSuffix(name, "Vec") && len(call.Args) == 2 {
			if lit, ok := call.Args[0].(*ast.CompositeLit); ok {
				vecLabels[lit] = stringList(t, fset, call.Args[1])
			}
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CompositeLit:
			sel := selectorName(n.Type)
			kind, ok := optsKinds[strings.TrimPrefix(sel, "prometheus.")]
			if !ok || !strings.HasPrefix(sel, "prometheus.") {
				return true
			}
			m := metric{kind: kind, labels: vecLabels[n], at: fset.Position(n.Pos()).String()}
			for _, el := range n.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				switch key := kv.Key.(*ast.Ident).Name; key {
				case "Name":
					m.name = literal(kv.Value)
				case "Namespace", "Subsystem", "ConstLabels":
					t.Errorf("%s: metric option %s is not understood by this test; spell the full name in Name", m.at, key)
				}
			}
			addNamed(t, m, inForwarder, add)
		case *ast.CallExpr:
			name := selectorName(n.Fun)
			at := fset.Position(n.Pos()).String()
			if fw, ok := forwarders[name]; ok && len(n.Args) > 0 {
				m := metric{name: literal(n.Args[0]), kind: fw.kind, labels: fw.labels, at: at}
				addNamed(t, m, false, add)
			}
			if name == "prometheus.NewDesc" && len(n.Args) >= 3 {
				m := metric{name: literal(n.Args[0]), kind: "untyped", labels: stringList(t, fset, n.Args[2]), at: at}
				if inForwarder && m.name == "" && !slices.Equal(m.labels, own.labels) {
					t.Errorf("%s: labels %v, but this test takes the forwarder's labels to be %v", at, m.labels, own.labels)
				}
				addNamed(t, m, inForwarder, add)
			}
		}
		return true
	})
}

func addNamed(t *testing.T, m metric, inForwarder bool, add func(metric)) {
	switch {
	case m.name != "":
		add(m)
	case !inForwarder:
		t.Errorf("%s: a metric whose name is not a string literal; the dashboard and alert check cannot see it", m.at)
	}
}

func selectorName(e ast.Expr) string {
	if s, ok := e.(*ast.SelectorExpr); ok {
		if x, ok := s.X.(*ast.Ident); ok {
			return x.Name + "." + s.Sel.Name
		}
	}
	return ""
}

// literal is the value of a string literal, or "" for anything else.
func literal(e ast.Expr) string {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return ""
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return ""
	}
	return s
}

func stringList(t *testing.T, fset *token.FileSet, e ast.Expr) []string {
	if id, ok := e.(*ast.Ident); ok && id.Name == "nil" {
		return nil
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		t.Errorf("%s: label names are not a []string literal; this test cannot read them", fset.Position(e.Pos()))
		return nil
	}
	var out []string
	for _, el := range lit.Elts {
		s := literal(el)
		if s == "" {
			t.Errorf("%s: a label name that is not a string literal", fset.Position(el.Pos()))
		}
		out = append(out, s)
	}
	return out
}

// TestRegisteredMetricsScan pins the scan itself to a few definitions it
// must find, of each shape: a Vec, a plain histogram, a forwarder and a
// gauge without labels.
func TestRegisteredMetricsScan(t *testing.T) {
	t.Parallel()
	got := registeredMetrics(t)
	want := []metric{
		{name: "ztbroker_tokens_issued_total", kind: "counter", labels: []string{"purpose", "result"}},
		{name: "ztbroker_revocation_lag_seconds", kind: "histogram"},
		{name: "ztbroker_leases_active", kind: "gauge", labels: []string{"purpose"}},
		{name: "ztbroker_ready", kind: "gauge"},
		{name: "ztbroker_upstream_request_duration_seconds", kind: "histogram", labels: []string{"upstream", "operation", "status"}},
	}
	for _, w := range want {
		g, ok := got[w.name]
		if !ok {
			t.Errorf("scan missed %s", w.name)
			continue
		}
		if g.kind != w.kind || !slices.Equal(g.labels, w.labels) {
			t.Errorf("%s: scanned as %s %v, want %s %v", w.name, g.kind, g.labels, w.kind, w.labels)
		}
	}
	for name := range got {
		if !strings.HasPrefix(name, "ztbroker_") {
			t.Errorf("metric %s (%s) does not start with ztbroker_", name, got[name].at)
		}
	}
	if t.Failed() {
		var names []string
		for n, m := range got {
			names = append(names, fmt.Sprintf("%s %s %v", n, m.kind, m.labels))
		}
		slices.Sort(names)
		t.Logf("scanned:\n%s", strings.Join(names, "\n"))
	}
}
