package scope

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
)

// Variables a condition may read.
const (
	varMethod    = "method"
	varOperation = "operation"
	varPath      = "path"
	varQuery     = "query"
	varBody      = "body"
	varFields    = "fields"
	varLease     = "lease"
	varLabels    = "labels"
)

// costLimit bounds one condition's evaluation; bodies come from callers.
const costLimit = 100_000

func newEnv() (*cel.Env, error) {
	str := cel.MapType(cel.StringType, cel.StringType)
	return cel.NewEnv(
		cel.Variable(varMethod, cel.StringType),
		cel.Variable(varOperation, cel.StringType),
		cel.Variable(varPath, str),
		cel.Variable(varQuery, str),
		cel.Variable(varBody, cel.DynType),
		cel.Variable(varFields, cel.ListType(cel.StringType)),
		cel.Variable(varLease, str),
		cel.Variable(varLabels, str),
		ext.Strings(),
	)
}

// activation resolves the variables without building a map per call.
type activation struct {
	method, operation string
	path, query       map[string]string
	body              any
	fields            []string
	lease, labels     map[string]string
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case varMethod:
		return a.method, true
	case varOperation:
		return a.operation, true
	case varPath:
		return a.path, true
	case varQuery:
		return a.query, true
	case varBody:
		return a.body, true
	case varFields:
		return a.fields, true
	case varLease:
		return a.lease, true
	case varLabels:
		return a.labels, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
