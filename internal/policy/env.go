package policy

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
)

// Variable names visible to rules.
const (
	varIdentity = "identity"
	varClaims   = "claims"
)

// costLimit bounds one rule evaluation. Claims come from outside (a
// token's payload), so a comprehension over a long claim list must not be
// able to burn CPU without limit. Ordinary rules cost well under 1000;
// 100k is roughly a tenth of a second of CPU.
const costLimit = 100_000

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
