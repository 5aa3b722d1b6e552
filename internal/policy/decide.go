package policy

import (
	"context"
	"fmt"

	"github.com/google/cel-go/common/types"

	"github.com/ztbroker/ztbroker/internal/auth"
)

// Purpose returns the purpose this policy belongs to.
func (p *Policy) Purpose() string { return p.purpose }

// APIKeys returns the admitted API key names, for cross-checking against
// the configured keys.
func (p *Policy) APIKeys() []string {
	out := make([]string, 0, len(p.apiKeys))
	for k := range p.apiKeys {
		out = append(out, k)
	}
	return out
}

// Decide returns whether id may issue for this purpose. It never fails: a
// rule that cannot be evaluated for id simply does not admit it.
func (p *Policy) Decide(id *auth.Identity) Decision {
	if id == nil {
		return Decision{}
	}
	if id.Kind == auth.KindAPIKey && p.apiKeys[id.Subject] {
		return Decision{Allowed: true, Rule: SourceAPIKeys}
	}
	if len(p.subjects) > 0 && p.subjects[id.Principal()] {
		return Decision{Allowed: true, Rule: SourceSubjects}
	}
	if len(p.rules) == 0 {
		return Decision{}
	}
	if _, err := oversizedClaim(id.Claims); err != nil {
		return Decision{}
	}
	act := newActivation(id)
	ctx, cancel := context.WithTimeout(context.Background(), p.deadline)
	defer cancel()
	for i := range p.rules {
		if ok, _ := p.rules[i].eval(ctx, act); ok {
			return Decision{Allowed: true, Rule: p.rules[i].name, MaxTTL: p.rules[i].maxTTL}
		}
	}
	return Decision{}
}

// oversizedClaim returns the name of the first claim larger than
// MaxClaimBytes, with an error saying so.
func oversizedClaim(claims map[string]any) (string, error) {
	for k, v := range claims {
		if n := claimSize(v, MaxClaimBytes); n > MaxClaimBytes {
			return k, fmt.Errorf("claim %q is larger than %d bytes, so no rule is evaluated", k, MaxClaimBytes)
		}
	}
	return "", nil
}

// claimSize is roughly how many bytes a claim's value holds, counting no
// further than limit+1.
func claimSize(v any, limit int) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case map[string]any:
		n := 0
		for k, e := range x {
			if n += len(k) + claimSize(e, limit-n); n > limit {
				return n
			}
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			if n += 1 + claimSize(e, limit-n); n > limit {
				return n
			}
		}
		return n
	}
	return 8 // numbers, booleans, null
}

// Explain evaluates every admission source for id, in Decide's order, and
// says why each did or did not admit. It is for operators (the policy test
// command), since reasons may quote claim values.
func (p *Policy) Explain(id *auth.Identity) []RuleResult {
	if id == nil {
		return []RuleResult{{Rule: SourceAPIKeys, Reason: "no identity"}}
	}
	out := make([]RuleResult, 0, 2+len(p.rules))
	out = append(out, p.explainAPIKeys(id), p.explainSubjects(id))
	if _, err := oversizedClaim(id.Claims); err != nil {
		for i := range p.rules {
			out = append(out, RuleResult{Rule: p.rules[i].name, MaxTTL: p.rules[i].maxTTL, Reason: "not evaluated: " + err.Error()})
		}
		return out
	}
	act := newActivation(id)
	ctx, cancel := context.WithTimeout(context.Background(), p.deadline)
	defer cancel()
	for i := range p.rules {
		r := &p.rules[i]
		ok, err := r.eval(ctx, act)
		res := RuleResult{Rule: r.name, Admitted: ok, MaxTTL: r.maxTTL}
		switch {
		case err != nil:
			res.Reason = "evaluation error: " + err.Error()
		case ok:
			res.Reason = "expression is true"
		default:
			res.Reason = "expression is false"
		}
		out = append(out, res)
	}
	return out
}

func (p *Policy) explainAPIKeys(id *auth.Identity) RuleResult {
	res := RuleResult{Rule: SourceAPIKeys}
	switch {
	case len(p.apiKeys) == 0:
		res.Reason = "no api keys listed"
	case id.Kind != auth.KindAPIKey:
		res.Reason = fmt.Sprintf("identity kind is %q, not %q", id.Kind, auth.KindAPIKey)
	case p.apiKeys[id.Subject]:
		res.Admitted, res.Reason = true, fmt.Sprintf("api key %q is listed", id.Subject)
	default:
		res.Reason = fmt.Sprintf("api key %q is not listed", id.Subject)
	}
	return res
}

func (p *Policy) explainSubjects(id *auth.Identity) RuleResult {
	res := RuleResult{Rule: SourceSubjects}
	switch {
	case len(p.subjects) == 0:
		res.Reason = "no subjects listed"
	case p.subjects[id.Principal()]:
		res.Admitted, res.Reason = true, fmt.Sprintf("%q is listed", id.Principal())
	default:
		res.Reason = fmt.Sprintf("%q is not listed", id.Principal())
	}
	return res
}

func newActivation(id *auth.Identity) *activation {
	claims := id.Claims
	if claims == nil {
		claims = map[string]any{}
	}
	return &activation{
		identity: map[string]string{"kind": id.Kind, "subject": id.Subject, "owner": id.Principal()},
		claims:   claims,
	}
}

// eval runs the rule. Only a boolean true admits; CEL errors (missing
// keys, type mismatches, cost limit, deadline) come back as the error.
func (r *rule) eval(ctx context.Context, act *activation) (bool, error) {
	out, _, err := r.prg.ContextEval(ctx, act)
	if err != nil {
		return false, err
	}
	return out == types.True, nil
}
