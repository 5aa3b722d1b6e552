package policy

import "time"

// Spec is one purpose's allow section as configured.
type Spec struct {
	// APIKeys are names of configured API keys that are admitted.
	APIKeys []string
	// Subjects are owners, "<kind>:<subject>", that are admitted.
	Subjects []string
	// Rules are CEL expressions tried in order.
	Rules []RuleSpec
}

// RuleSpec is one CEL rule.
type RuleSpec struct {
	Name string
	// Expr is a CEL expression of type bool over the variables identity
	// (map with kind, subject, owner) and claims (map of string to dyn).
	Expr string
	// MaxTTL caps leases this rule admits; zero means the purpose's max.
	MaxTTL time.Duration
}

// Decision is the outcome of Decide.
type Decision struct {
	Allowed bool
	// Rule names what admitted: "api_keys", "subjects" or a rule's name.
	// Empty when denied.
	Rule string
	// MaxTTL caps the lease; zero means the purpose's max_ttl.
	MaxTTL time.Duration
}

// RuleResult is one admission source's verdict, for explaining a
// decision.
type RuleResult struct {
	Rule     string
	Admitted bool
	// Reason says why in words meant for an operator, never a caller:
	// it may name claim values.
	Reason string
	MaxTTL time.Duration
}

// Names of the built-in admission sources, as they appear in Decision.Rule.
const (
	SourceAPIKeys  = "api_keys"
	SourceSubjects = "subjects"
)
