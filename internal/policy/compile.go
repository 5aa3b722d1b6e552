package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/cel-go/cel"

	"github.com/ztbroker/ztbroker/internal/auth"
)

// Policy is a compiled allow section. It is immutable and safe for
// concurrent use.
type Policy struct {
	purpose  string
	apiKeys  map[string]bool
	subjects map[string]bool
	rules    []rule
	deadline time.Duration
}

// Option changes how a policy evaluates.
type Option func(*Policy)

// WithEvalDeadline bounds one decision's wall time instead of the default
// 100ms.
func WithEvalDeadline(d time.Duration) Option { return func(p *Policy) { p.deadline = d } }

type rule struct {
	name   string
	maxTTL time.Duration
	prg    cel.Program
}

var ruleName = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$`)

// Compile type-checks every rule of a purpose. The error, if any, joins
// one *CompileError per problem, so all are reported at once; CEL errors
// carry the line:col of the fault within the expression.
func Compile(purpose string, s Spec, opts ...Option) (*Policy, error) {
	p := &Policy{
		purpose:  purpose,
		apiKeys:  make(map[string]bool, len(s.APIKeys)),
		subjects: make(map[string]bool, len(s.Subjects)),
		deadline: evalDeadline,
	}
	for _, o := range opts {
		o(p)
	}
	var errs []error
	for i, k := range s.APIKeys {
		if k == "" {
			errs = append(errs, &CompileError{Purpose: purpose, Section: SourceAPIKeys, Index: i, Msg: "empty name"})
		}
		p.apiKeys[k] = true
	}
	for i, sub := range s.Subjects {
		if err := CheckOwner(sub); err != nil {
			errs = append(errs, &CompileError{Purpose: purpose, Section: SourceSubjects, Index: i, Msg: err.Error()})
		}
		p.subjects[sub] = true
	}
	if len(s.Rules) > 0 {
		env, err := newEnv()
		if err != nil {
			return nil, fmt.Errorf("purpose %q: building CEL environment: %w", purpose, err)
		}
		seen := make(map[string]bool, len(s.Rules))
		for i, rs := range s.Rules {
			r, field, err := compileRule(env, rs, seen)
			if err != nil {
				errs = append(errs, &CompileError{Purpose: purpose, Section: "rules", Index: i, Rule: rs.Name, Field: field, Msg: err.Error()})
				continue
			}
			p.rules = append(p.rules, r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// compileRule returns the rule, or the name of the field at fault and why.
func compileRule(env *cel.Env, rs RuleSpec, seen map[string]bool) (rule, string, error) {
	switch {
	case !ruleName.MatchString(rs.Name):
		return rule{}, "name", fmt.Errorf("must match %s", ruleName)
	case rs.Name == SourceAPIKeys || rs.Name == SourceSubjects:
		return rule{}, "name", fmt.Errorf("%q is reserved", rs.Name)
	case seen[rs.Name]:
		return rule{}, "name", errors.New("duplicate rule name")
	case rs.MaxTTL < 0:
		return rule{}, "max_ttl", errors.New("must not be negative")
	case strings.TrimSpace(rs.Expr) == "":
		return rule{}, "expr", errors.New("must not be empty")
	}
	seen[rs.Name] = true
	ast, iss := env.Compile(rs.Expr)
	if iss.Err() != nil {
		return rule{}, "expr", issuesError(iss)
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return rule{}, "expr", fmt.Errorf("has type %s, want bool", cel.FormatCELType(ast.OutputType()))
	}
	// Every rule gets both bounds, whatever it looks like: a single
	// call on outside data (claims.repository.replace("a",
	// claims.repository)) cost 2 s and 81 MB with no loop in sight. The
	// cost limit stops a rule once its running cost passes it; the
	// deadline interrupts comprehensions between iterations.
	prg, err := env.Program(ast,
		cel.EvalOptions(cel.OptOptimize),
		cel.CostLimit(costLimit),
		cel.InterruptCheckFrequency(interruptCheckFrequency),
	)
	if err != nil {
		return rule{}, "expr", fmt.Errorf("building program: %w", err)
	}
	return rule{name: rs.Name, maxTTL: rs.MaxTTL, prg: prg}, "", nil
}

// issuesError renders CEL's issues as "line:col: message", one per error;
// columns are shown 1-based like an editor's.
func issuesError(iss *cel.Issues) error {
	msgs := make([]string, 0, len(iss.Errors()))
	for _, e := range iss.Errors() {
		msgs = append(msgs, fmt.Sprintf("%d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
	}
	return errors.New(strings.Join(msgs, "; "))
}

// CheckOwner validates an owner string, "<kind>:<subject>", as used in
// subjects and admins lists.
func CheckOwner(s string) error {
	kind, subject, ok := strings.Cut(s, ":")
	if !ok || subject == "" {
		return errors.New(`must be "<kind>:<subject>"`)
	}
	switch kind {
	case auth.KindAPIKey, auth.KindOIDC:
		return nil
	case auth.KindMTLS:
		return checkMTLSSubject(subject)
	}
	return fmt.Errorf("unknown kind %q (want %s, %s or %s)", kind, auth.KindAPIKey, auth.KindMTLS, auth.KindOIDC)
}

// checkMTLSSubject accepts the two namespaces mtlsauth produces. A bare
// common name ("mtls:svc") was the form before common names got their own
// namespace; it now matches nobody, so it is an error that shows the new
// spelling rather than a silent lockout.
func checkMTLSSubject(subject string) error {
	switch {
	case strings.HasPrefix(subject, "spiffe://"), strings.HasPrefix(subject, "cn:") && len(subject) > len("cn:"):
		return nil
	}
	return fmt.Errorf(`mtls subjects are "mtls:spiffe://<trust domain>/<path>" or "mtls:cn:<common name>"; for a certificate named by its common name write %q`,
		"mtls:cn:"+subject)
}
