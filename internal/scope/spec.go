package scope

import "fmt"

// Spec is one purpose's scope as configured.
type Spec struct {
	// Networks, when set, is the only networks any call may name; list
	// responses are cut down to them.
	Networks []string
	// Members, when set, is the only members any call may name.
	Members []string
	// Rules allow operations; a call needs one that allows it.
	Rules []RuleSpec
}

// RuleSpec allows a set of operations, under a condition.
type RuleSpec struct {
	Name string
	// Operations are catalogue operations, "METHOD /template", such as
	// "POST /api/v2/network/{network}/member/{member}/authorize".
	Operations []string
	// When is an optional CEL condition of type bool over method,
	// operation, path, query, body, fields, lease and labels.
	When string
	// Query lists the query parameters callers may send; any other
	// parameter, or any at all when empty, is refused.
	Query []string
}

// Options tunes a compiled scope.
type Options struct {
	// MaxBody bounds a request body in bytes; zero means DefaultMaxBody.
	MaxBody int
}

// DefaultMaxBody is Central's largest useful request body, with room.
const DefaultMaxBody = 64 << 10

// CompileError is one problem in a purpose's scope. Compile joins them,
// so every problem is reported at once.
type CompileError struct {
	Purpose string
	// Section is "networks", "members" or "rules".
	Section string
	Index   int
	// Rule and Field locate a problem within rules[Index], e.g. "when"
	// or "operations[2]".
	Rule  string
	Field string
	Msg   string
}

func (e *CompileError) Error() string {
	if e.Section == "rules" {
		return fmt.Sprintf("purpose %q: scope rule %q: %s: %s", e.Purpose, e.Rule, e.Field, e.Msg)
	}
	return fmt.Sprintf("purpose %q: scope %s[%d]: %s", e.Purpose, e.Section, e.Index, e.Msg)
}

// Lease is what a condition may read about the lease making the call.
type Lease struct {
	ID     string
	Owner  string
	Labels map[string]string
}

// Decision is the verdict on one request.
type Decision struct {
	Allowed bool
	// Status is the HTTP status of a refusal: 400 (not canonical, bad
	// body), 403 (not allowed) or 413 (body too large).
	Status int
	// Kind is a short fixed reason, for metrics: ok, too_large,
	// method_override, non_canonical, other_api, hard_deny, unsupported,
	// bad_body, allowlist, query or no_rule.
	Kind string
	// Op is the matched operation, nil when none matched.
	Op *Op
	// Rule names the rule that allowed the call.
	Rule   string
	Params map[string]string
	// Path and Query are what to send upstream: the template filled with
	// the checked parameters, and the allowed query re-encoded.
	Path  string
	Query string
	// Body is the canonical JSON to forward, nil for none.
	Body []byte
	// Resources names the ids the call touches, for the audit trail.
	Resources []string
	// Message is safe to show the caller: it names the operation, never a
	// rule or an allowlist.
	Message string
	// Reason is for operators and may quote values.
	Reason string
}

// Step is one check of an explained decision.
type Step struct {
	Check  string
	OK     bool
	Detail string
}
