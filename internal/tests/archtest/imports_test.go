package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ztbroker/ztbroker"

type pkg struct {
	ImportPath   string
	Imports      []string // production files only
	TestImports  []string
	XTestImports []string
}

// listPackages runs go list over the module once per test binary.
func listPackages(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Imports,TestImports,XTestImports"}, args...)...)
	cmd.Dir = "../../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var ps []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if len(ps) < 20 {
		t.Fatalf("go list found only %d packages; is the working directory the module root?", len(ps))
	}
	return ps
}

// rel names a package of this module by its path inside the module, and a
// standard library package as "std:<path>", so that the standard
// library's own internal/... packages are never taken for ours.
func rel(path string) string {
	if r, ok := strings.CutPrefix(path, module+"/"); ok {
		return r
	}
	if first, _, _ := strings.Cut(path, "/"); !strings.Contains(first, ".") {
		return "std:" + path
	}
	return path
}

func under(path string, roots ...string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+"/") {
			return true
		}
	}
	return false
}

// testSupport reports whether a package exists only to help tests.
func testSupport(path string) bool {
	if !strings.HasPrefix(path, "internal/") && !strings.HasPrefix(path, "cmd/") {
		return false // the standard library or another module
	}
	if under(path, "internal/testing", "internal/tests") {
		return true
	}
	last := path[strings.LastIndex(path, "/")+1:]
	return strings.HasSuffix(last, "test") && last != "archtest"
}

// rule is one line of ARCHITECTURE.md's import rules: a package (by its
// module-relative path) may not import a module-relative or standard
// import path.
type rule struct {
	text   string
	forbid func(from, to string) bool
}

var rules = []rule{
	{
		text: "internal/config imports no package of this module",
		forbid: func(from, to string) bool {
			return from == "internal/config" && strings.HasPrefix(to, "internal/")
		},
	},
	{
		text: "internal/errs and internal/lease import no package of this module but errs",
		forbid: func(from, to string) bool {
			return (from == "internal/errs" || from == "internal/lease") &&
				strings.HasPrefix(to, "internal/") && to != "internal/errs"
		},
	},
	{
		text: "internal/scope and internal/proxycred import no package of this module",
		forbid: func(from, to string) bool {
			return (from == "internal/scope" || from == "internal/proxycred") && strings.HasPrefix(to, "internal/")
		},
	},
	{
		text: "the proxy forwards for leases; it does not issue them, read the config or speak the generated API",
		forbid: func(from, to string) bool {
			return under(from, "internal/proxy") && under(to, "internal/broker", "internal/config", "internal/policy", "internal/auth", "gen")
		},
	},
	{
		text: "only cmd/broker and internal/cli import internal/cli",
		forbid: func(from, to string) bool {
			return under(to, "internal/cli") && !under(from, "cmd/broker", "internal/cli")
		},
	},
	{
		text: "only internal/server, internal/cli and test support read internal/config",
		forbid: func(from, to string) bool {
			return to == "internal/config" && !under(from, "internal/server", "internal/cli") && !testSupport(from)
		},
	},
	{
		text: "only internal/cli and test support import internal/server",
		forbid: func(from, to string) bool {
			return to == "internal/server" && !under(from, "internal/cli") && !testSupport(from)
		},
	},
	{
		text: "the generated API is used by the doors and the public client only: internal/broker, internal/server, internal/cli and client",
		forbid: func(from, to string) bool {
			return under(to, "gen") && !under(from, "internal/broker", "internal/server", "internal/cli", "client")
		},
	},
	{
		text: "the public client imports nothing of this module but gen, so importing it never drags the server in",
		forbid: func(from, to string) bool {
			return under(from, "client") && !strings.HasPrefix(to, "std:") && !strings.Contains(to, ".") && !under(to, "gen", "client")
		},
	},
	{
		text: "upstream clients know nothing of the broker, the store or the workers",
		forbid: func(from, to string) bool {
			return under(from, "internal/upstream") && under(to, "internal/broker", "internal/store", "internal/worker", "internal/server")
		},
	},
	{
		text: "the domain and the workers do not depend on the wiring or the commands",
		forbid: func(from, to string) bool {
			return under(from, "internal/broker", "internal/worker", "internal/store", "internal/policy", "internal/auth",
				"internal/proxy", "internal/scope", "internal/proxycred") &&
				under(to, "internal/server", "internal/cli")
		},
	},
	{
		text: "pgx is imported only by pgstore, migrate, the wiring that opens the pool, pgtest and brokertest",
		forbid: func(from, to string) bool {
			return strings.HasPrefix(to, "github.com/jackc/pgx") &&
				!under(from, "internal/store/pgstore", "internal/store/migrate", "internal/server", "internal/testing/pgtest", "internal/testing/brokertest")
		},
	},
	{
		text: "production code imports no test-support package, nor testing or net/http/httptest",
		forbid: func(from, to string) bool {
			if testSupport(from) {
				return false
			}
			return testSupport(to) || to == "std:testing" || to == "std:net/http/httptest"
		},
	},
}

// TestImportRules checks every production import of every package in the
// module against the rules. The tools under internal/tests (the load
// driver) are tests of the whole, which may import anything.
func TestImportRules(t *testing.T) {
	t.Parallel()
	var broken []string
	for _, p := range listPackages(t, "./...") {
		from := rel(p.ImportPath)
		if under(from, "internal/tests") {
			continue
		}
		for _, imp := range p.Imports {
			to := rel(imp)
			for _, r := range rules {
				if r.forbid(from, to) {
					broken = append(broken, fmt.Sprintf("%s imports %s: breaks %q", from, to, r.text))
				}
			}
		}
	}
	for _, b := range broken {
		t.Error(b)
	}
}

// TestTestSupportOnlyInTests checks that the test-support packages are
// imported from tests or from other test support only: their names say
// so, and the production rule above relies on it.
func TestTestSupportOnlyInTests(t *testing.T) {
	t.Parallel()
	var seen []string
	for _, p := range listPackages(t, "./...") {
		for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
			if testSupport(rel(imp)) {
				seen = append(seen, rel(imp))
			}
		}
	}
	// Guard the guard: if testSupport stopped recognising the packages,
	// the production rule would pass vacuously.
	for _, want := range []string{"internal/testing/pgtest", "internal/upstream/emulator/emulatortest", "internal/store/storetest", "internal/worker/workertest"} {
		if !slices.Contains(seen, want) {
			t.Errorf("no test imports %s; has it moved? update testSupport and ARCHITECTURE.md", want)
		}
	}
}

// TestBrokerBinaryLinksNoTestCode checks the whole dependency graph of the
// binary, not just direct imports: a test helper reached through a third
// package would link testing all the same.
func TestBrokerBinaryLinksNoTestCode(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-deps", "./cmd/broker")
	cmd.Dir = "../../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, module+"/internal/upstream/emulator") {
		t.Fatal("cmd/broker does not depend on the emulator any more; this test no longer guards anything")
	}
	for _, d := range deps {
		if r := rel(d); r == "std:testing" || r == "std:net/http/httptest" || testSupport(r) {
			t.Errorf("cmd/broker links %s", d)
		}
	}
}
