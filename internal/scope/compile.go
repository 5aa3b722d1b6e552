package scope

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
)

// Scope is a compiled scope. It is immutable and safe for concurrent use.
type Scope struct {
	purpose  string
	api      API
	networks map[string]bool // nil: any network
	members  map[string]bool // nil: any member
	rules    []rule
	maxBody  int
}

type rule struct {
	name  string
	ops   []*Op
	query map[string]bool
	prg   cel.Program // nil: no condition
}

var ruleName = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$`)

// Compile checks and compiles a purpose's scope for the API its upstream
// speaks. The error joins one *CompileError per problem.
func Compile(purpose string, api API, s Spec, o Options) (*Scope, error) {
	if api != APIv1 && api != APIv2 {
		return nil, fmt.Errorf("purpose %q: unknown API %q", purpose, api)
	}
	sc := &Scope{purpose: purpose, api: api, maxBody: o.MaxBody}
	if sc.maxBody <= 0 {
		sc.maxBody = DefaultMaxBody
	}
	var errs []error
	report := func(section string, i int, msg string) {
		errs = append(errs, &CompileError{Purpose: purpose, Section: section, Index: i, Msg: msg})
	}
	sc.networks = idSet(s.Networks, ParamNetwork, func(i int, msg string) { report("networks", i, msg) })
	sc.members = idSet(s.Members, ParamMember, func(i int, msg string) { report("members", i, msg) })
	if len(s.Rules) == 0 {
		report("rules", 0, "no rules: a proxy purpose needs at least one, or it allows nothing")
	}
	var env *cel.Env
	seen := map[string]bool{}
	for i, rs := range s.Rules {
		bad := func(field, format string, args ...any) {
			errs = append(errs, &CompileError{Purpose: purpose, Section: "rules", Index: i, Rule: rs.Name, Field: field, Msg: fmt.Sprintf(format, args...)})
		}
		r := rule{name: rs.Name, query: map[string]bool{}}
		switch {
		case !ruleName.MatchString(rs.Name):
			bad("name", "must match %s", ruleName)
		case seen[rs.Name]:
			bad("name", "duplicate rule name")
		}
		seen[rs.Name] = true
		if len(rs.Operations) == 0 {
			bad("operations", "must name at least one operation")
		}
		for j, text := range rs.Operations {
			op, msg := sc.operation(text)
			if op == nil {
				bad(fmt.Sprintf("operations[%d]", j), "%s", msg)
				continue
			}
			if slices.Contains(r.ops, op) {
				bad(fmt.Sprintf("operations[%d]", j), "%s is listed twice", op)
				continue
			}
			r.ops = append(r.ops, op)
		}
		for j, q := range rs.Query {
			for _, op := range r.ops {
				if !slices.Contains(op.Query, q) {
					bad(fmt.Sprintf("query[%d]", j), "%s takes no query parameter %q (it takes %v)", op, q, op.Query)
				}
			}
			r.query[q] = true
		}
		if strings.TrimSpace(rs.When) != "" {
			if env == nil {
				var err error
				if env, err = newEnv(); err != nil {
					return nil, fmt.Errorf("purpose %q: building CEL environment: %w", purpose, err)
				}
			}
			prg, err := compileCondition(env, rs.When)
			if err != nil {
				bad("when", "%v", err)
			}
			r.prg = prg
		}
		sc.rules = append(sc.rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sc, nil
}

// operation resolves a rule's operation text, or says why it cannot.
func (sc *Scope) operation(text string) (*Op, string) {
	f := strings.Fields(text)
	if len(f) != 2 {
		return nil, fmt.Sprintf("%q must be \"METHOD /path/template\"", text)
	}
	canonical := strings.ToUpper(f[0]) + " " + f[1]
	segs := strings.Split(strings.TrimPrefix(f[1], "/"), "/")
	if len(segs) >= 2 && segs[0] == "api" {
		if why, denied := hardDeny(API(segs[1]), segs[2:]); denied {
			return nil, fmt.Sprintf("%s %s and is never forwarded, whatever the rules say", canonical, why)
		}
	}
	op := lookup(canonical)
	if op == nil {
		return nil, fmt.Sprintf("%q is not an operation the proxy forwards; %s operations are: %s",
			text, sc.apiName(), strings.Join(Operations(sc.api), ", "))
	}
	if op.API != sc.api {
		return nil, fmt.Sprintf("%s is a %s operation, but this purpose's upstream speaks %s", op, apiTitle(op.API), sc.apiName())
	}
	return op, ""
}

func (sc *Scope) apiName() string { return apiTitle(sc.api) }

func apiTitle(a API) string {
	if a == APIv1 {
		return "Legacy Central (/api/v1)"
	}
	return "New Central (/api/v2)"
}

func idSet(ids []string, param string, bad func(int, string)) map[string]bool {
	if len(ids) == 0 {
		return nil
	}
	m := make(map[string]bool, len(ids))
	for i, id := range ids {
		if !validParam(param, id) {
			if param == ParamNetwork {
				bad(i, fmt.Sprintf("%q is not a network id (16 lowercase hex digits)", id))
			} else {
				bad(i, fmt.Sprintf("%q is not a member id (10 lowercase hex digits)", id))
			}
			continue
		}
		m[id] = true
	}
	return m
}

func compileCondition(env *cel.Env, expr string) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		msgs := make([]string, 0, len(iss.Errors()))
		for _, e := range iss.Errors() {
			msgs = append(msgs, fmt.Sprintf("%d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("has type %s, want bool", cel.FormatCELType(ast.OutputType()))
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if loops := celast.MatchDescendants(celast.NavigateAST(ast.NativeRep()), celast.KindMatcher(celast.ComprehensionKind)); len(loops) > 0 {
		opts = append(opts, cel.CostLimit(costLimit))
	}
	prg, err := env.Program(ast, opts...)
	if err != nil {
		return nil, fmt.Errorf("building program: %w", err)
	}
	return prg, nil
}

// Purpose names the purpose the scope belongs to.
func (sc *Scope) Purpose() string { return sc.purpose }

// API is the API the scope forwards.
func (sc *Scope) API() API { return sc.api }

// MaxBody is the largest request body the scope accepts.
func (sc *Scope) MaxBody() int { return sc.maxBody }
