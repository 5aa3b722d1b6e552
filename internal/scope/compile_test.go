package scope_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ztbroker/ztbroker/internal/scope"
)

func TestCompileErrorsNamePurposeRuleAndPosition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		api   scope.API
		spec  scope.Spec
		field string // CompileError section.field of the (only) error
		msg   string // substring of its message
	}{
		{"no rules", scope.APIv2, scope.Spec{}, "rules", "no rules"},
		{"bad network id", scope.APIv2, scope.Spec{Networks: []string{"8056C2E21C000001"}, Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"GET /api/v2/network"}}}}, "networks", "16 lowercase hex"},
		{"bad member id", scope.APIv2, scope.Spec{Members: []string{"nope"}, Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"GET /api/v2/network"}}}}, "members", "10 lowercase hex"},
		{"bad rule name", scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "Bad Name", Operations: []string{"GET /api/v2/network"}}}}, "rules.name", "must match"},
		{"no operations", scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "r"}}}, "rules.operations", "at least one"},
		{"unknown operation", scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"GET /api/v2/org"}}}}, "rules.operations[0]", "not an operation the proxy forwards"},
		{"malformed operation", scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"/api/v2/network"}}}}, "rules.operations[0]", "METHOD /path/template"},
		{"credential operation", scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"POST /api/v2/service-account/{id}/api-key"}}}}, "rules.operations[0]", "never forwarded"},
		{"legacy token operation", scope.APIv1, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"POST /api/v1/user/{id}/token"}}}}, "rules.operations[0]", "never forwarded"},
		{"other API's operation", scope.APIv1, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"GET /api/v2/network"}}}}, "rules.operations[0]", "upstream speaks Legacy"},
		{"unknown query parameter", scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"GET /api/v2/network"}, Query: []string{"page"}}}}, "rules.query[0]", `no query parameter "page"`},
		{"condition does not parse", scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"GET /api/v2/network"}, When: "method ==\n  = 'GET'"}}}, "rules.when", "2:3:"},
		{"condition reads an unknown variable", scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"GET /api/v2/network"}, When: `claims.x == "y"`}}}, "rules.when", "1:1: undeclared reference to 'claims'"},
		{"condition not bool", scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"GET /api/v2/network"}, When: `method`}}}, "rules.when", "want bool"},
		{"duplicate rule", scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"GET /api/v2/network"}}, {Name: "r", Operations: []string{"GET /api/v2/network/{network}"}}}}, "rules.name", "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := scope.Compile("ci", tt.api, tt.spec, scope.Options{})
			if err == nil {
				t.Fatal("compiled")
			}
			var ce *scope.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CompileError", err)
			}
			field := ce.Section
			if ce.Field != "" {
				field += "." + ce.Field
			}
			if field != tt.field || !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("got %s: %s, want %s containing %q", field, ce.Msg, tt.field, tt.msg)
			}
			if !strings.Contains(err.Error(), `purpose "ci"`) {
				t.Errorf("error %q does not name the purpose", err)
			}
		})
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := scope.Compile("ci", scope.APIv2, scope.Spec{
		Networks: []string{"x"},
		Rules: []scope.RuleSpec{
			{Name: "a", Operations: []string{"GET /api/v2/nope"}},
			{Name: "b", Operations: []string{"GET /api/v2/network"}, When: "1"},
		},
	}, scope.Options{})
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 3 {
		t.Errorf("got %d errors, want 3: %v", n, err)
	}
}
