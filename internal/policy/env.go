package policy

import (
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
)

// Variable names visible to rules.
const (
	varIdentity = "identity"
	varClaims   = "claims"
)

// Bounds on one decision. Claims come from outside (a token's payload),
// so no rule may burn CPU or memory on them without limit.
const (
	// costLimit bounds one rule's evaluation cost; ordinary rules cost
	// well under 1,000.
	costLimit = 100_000
	// evalDeadline bounds one decision's wall time, checked between the
	// iterations of comprehensions every interruptCheckFrequency steps.
	evalDeadline            = 100 * time.Millisecond
	interruptCheckFrequency = 100
	// MaxClaimBytes caps each claim a rule may read, counted over its
	// strings and nested values. An identity with a larger claim is
	// admitted by no rule: cut short, it could be read as something it
	// is not, and whole, it multiplies what string functions cost. Real
	// claims (a repository, a ref, a workflow path) are a few hundred
	// bytes.
	MaxClaimBytes = 1024
)

func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable(varIdentity, cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable(varClaims, cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
	)
}

// activation resolves the two variables without building a map per call.
type activation struct {
	identity map[string]string
	claims   map[string]any
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case varIdentity:
		return a.identity, true
	case varClaims:
		return a.claims, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
