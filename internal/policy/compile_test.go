package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/policy"
)

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec policy.Spec
		want []string // each must appear in the error
	}{
		{
			name: "syntax error has position",
			spec: policy.Spec{Rules: []policy.RuleSpec{{Name: "main", Expr: "claims.ref ==\n  && true"}}},
			want: []string{`purpose "deploy": rule "main": expr: 2:`},
		},
		{
			name: "undeclared variable",
			spec: policy.Spec{Rules: []policy.RuleSpec{{Name: "main", Expr: `request.ref == "x"`}}},
			want: []string{`rule "main": expr: 1:1: undeclared reference to 'request'`},
		},
		{
			name: "not bool",
			spec: policy.Spec{Rules: []policy.RuleSpec{{Name: "main", Expr: `identity.subject`}}},
			want: []string{`rule "main": expr: has type string, want bool`},
		},
		{
			name: "dyn is not accepted as bool",
			spec: policy.Spec{Rules: []policy.RuleSpec{{Name: "main", Expr: `claims.admin`}}},
			want: []string{`has type dyn, want bool`},
		},
		{
			name: "all errors reported",
			spec: policy.Spec{
				Subjects: []string{"nokind", "robot:x", "oidc:github/x"},
				Rules: []policy.RuleSpec{
					{Name: "Bad Name", Expr: "true"},
					{Name: "a", Expr: "true"},
					{Name: "a", Expr: "true"},
					{Name: "api_keys", Expr: "true"},
					{Name: "neg", Expr: "true", MaxTTL: -time.Second},
					{Name: "empty", Expr: "  "},
				},
			},
			want: []string{
				`subjects[0]: must be "<kind>:<subject>"`,
				`subjects[1]: unknown kind "robot"`,
				`rule "Bad Name": name: must match`,
				`rule "a": name: duplicate rule name`,
				`rule "api_keys": name: "api_keys" is reserved`,
				`rule "neg": max_ttl: must not be negative`,
				`rule "empty": expr: must not be empty`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := policy.Compile("deploy", tt.spec)
			if err == nil {
				t.Fatal("Compile succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var ce *policy.CompileError
			if !errors.As(err, &ce) || ce.Purpose != "deploy" {
				t.Errorf("error is not a *CompileError for the purpose: %#v", err)
			}
		})
	}
}

func TestCompileErrorFields(t *testing.T) {
	t.Parallel()
	_, err := policy.Compile("p", policy.Spec{Rules: []policy.RuleSpec{
		{Name: "ok", Expr: "true"},
		{Name: "bad", Expr: "1 +"},
	}})
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v does not join", err)
	}
	var got []policy.CompileError
	for _, e := range joined.Unwrap() {
		var ce *policy.CompileError
		if errors.As(e, &ce) {
			c := *ce
			c.Msg = ""
			got = append(got, c)
		}
	}
	want := []policy.CompileError{{Purpose: "p", Section: "rules", Index: 1, Rule: "bad", Field: "expr"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestCheckOwner(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"api_key:ops":                      true,
		"mtls:spiffe://example.org/x":      true,
		"mtls:cn:legacy-svc":               true,
		"mtls:legacy-svc":                  false,
		"mtls:cn:":                         false,
		"oidc:github/repo:acme/x:ref:main": true,
		"oidc:":                            false,
		"ops":                              false,
		"user:bob":                         false,
	}
	for in, ok := range tests {
		if err := policy.CheckOwner(in); (err == nil) != ok {
			t.Errorf("CheckOwner(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}
