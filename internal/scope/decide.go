package scope

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/cel-go/common/types"
)

// Request is one call as the proxy received it.
type Request struct {
	Method string
	// Target is the origin-form request target below the purpose's proxy
	// root, exactly as received: "/api/v2/network?stats=true".
	Target string
	// Header is consulted only for method-override headers.
	Header http.Header
	Body   []byte
	Lease  Lease
}

// Decide judges one request. It never fails: anything it cannot judge is
// refused.
func (sc *Scope) Decide(r Request) Decision {
	return sc.decide(r, nil)
}

// Explain is Decide that also says, step by step, why. It evaluates every
// rule, even after one allowed, and its details may quote the request:
// they are for operators (the policy test command), never for callers.
func (sc *Scope) Explain(r Request) (Decision, []Step) {
	var steps []Step
	d := sc.decide(r, &steps)
	return d, steps
}

func (sc *Scope) decide(r Request, steps *[]Step) Decision {
	note := func(check string, ok bool, format string, args ...any) {
		if steps != nil {
			*steps = append(*steps, Step{Check: check, OK: ok, Detail: fmt.Sprintf(format, args...)})
		}
	}
	refuse := func(status int, kind, msg, reason string) Decision {
		return Decision{Status: status, Kind: kind, Message: msg, Reason: reason}
	}

	if len(r.Body) > sc.maxBody {
		note("body size", false, "%d bytes, limit %d", len(r.Body), sc.maxBody)
		return refuse(http.StatusRequestEntityTooLarge, "too_large", "request body exceeds the limit", "body too large")
	}
	for _, h := range overrideHeaders {
		if _, ok := r.Header[h]; ok {
			note("method", false, "%s header present", h)
			return refuse(http.StatusBadRequest, "method_override", "method override headers are not accepted", h+" present")
		}
	}
	t, err := parseTarget(r.Target)
	if err != nil {
		note("path", false, "%v", err)
		return refuse(http.StatusBadRequest, "non_canonical",
			"the request target is not canonical: lowercase path segments of [a-z0-9-] under /api/v1 or /api/v2, no empty or dot segments, no encoded characters, a query of unique key=value pairs",
			err.Error())
	}
	note("path", true, "canonical")
	if why, denied := hardDeny(t.api, t.segs); denied {
		note("hard deny", false, "the path %s", why)
		return refuse(http.StatusForbidden, "hard_deny",
			fmt.Sprintf("%s %s %s and is never forwarded by the broker", safeMethod(r.Method), pathOf(t), why), "hard deny: "+why)
	}
	note("hard deny", true, "not a credential, identity or access route")
	if t.api != sc.api {
		note("api", false, "this purpose forwards %s only", sc.apiName())
		return refuse(http.StatusForbidden, "other_api",
			fmt.Sprintf("purpose %q forwards %s only", sc.purpose, sc.apiName()), "wrong API version")
	}
	op, params, pathKnown := match(t.api, r.Method, t.segs)
	if op == nil {
		what := "path"
		if pathKnown {
			what = "method"
		}
		note("operation", false, "no catalogue operation for this %s", what)
		return refuse(http.StatusForbidden, "unsupported",
			fmt.Sprintf("%s %s is not an operation the broker forwards", safeMethod(r.Method), pathOf(t)), "no such operation")
	}
	note("operation", true, "%s", op)
	var resources []string
	if n, ok := params[ParamNetwork]; ok {
		resources = append(resources, "network="+n)
	}
	denied := func(kind, reason string) Decision {
		d := refuse(http.StatusForbidden, kind,
			fmt.Sprintf("the scope of purpose %q does not allow %s", sc.purpose, op), reason)
		d.Op, d.Params, d.Resources = op, params, resources
		return d
	}

	body, bulk, err := checkShape(op.Body, r.Method, r.Body)
	if err != nil {
		note("body", false, "%v", err)
		d := refuse(http.StatusBadRequest, "bad_body", err.Error(), err.Error())
		d.Op, d.Params, d.Resources = op, params, resources
		return d
	}
	note("body", true, "well formed")

	if n, ok := params[ParamNetwork]; ok {
		if sc.networks != nil && !sc.networks[n] {
			note("networks", false, "network %s is not listed", n)
			return denied("allowlist", "network "+n+" not in the allowlist")
		}
		note("networks", true, "network %s allowed", n)
	}
	members := bulk
	if m, ok := params[ParamMember]; ok {
		members = append(members, m)
	}
	if len(members) > 0 {
		resources = append(resources, resourceList("member", members))
	}
	if sc.members != nil {
		for _, m := range members {
			if !sc.members[m] {
				note("members", false, "member %s is not listed", m)
				return denied("allowlist", "member "+m+" not in the allowlist")
			}
		}
		if len(members) > 0 {
			note("members", true, "every member named is listed")
		}
	}

	var act *activation
	rule, kind := "", "no_rule"
	for i := range sc.rules {
		ru := &sc.rules[i]
		if !containsOp(ru.ops, op) {
			note("rule "+ru.name, false, "does not name %s", op)
			continue
		}
		if k, ok := ru.queryAllowed(t.query); !ok {
			note("rule "+ru.name, false, "does not allow query parameter %q", k)
			kind = "query"
			continue
		}
		if ru.prg == nil {
			note("rule "+ru.name, true, "names the operation; no condition")
			if rule == "" {
				rule = ru.name
			}
			if steps == nil {
				break
			}
			continue
		}
		if act == nil {
			act = newActivation(r, op, params, t.query, body)
		}
		out, _, err := ru.prg.Eval(act)
		switch {
		case err != nil:
			note("rule "+ru.name, false, "condition could not be evaluated: %v", err)
			continue
		case out != types.True:
			note("rule "+ru.name, false, "condition is false")
			continue
		}
		note("rule "+ru.name, true, "condition is true")
		if rule == "" {
			rule = ru.name
		}
		if steps == nil {
			break
		}
	}
	if rule == "" {
		return denied(kind, "no rule allows it")
	}
	var fwd []byte
	if body != nil {
		if fwd, err = encodeJSON(body); err != nil {
			// Only reachable for a value parseJSON could not have made.
			return denied("bad_body", "re-encoding failed")
		}
	}
	return Decision{
		Allowed: true, Kind: "ok", Op: op, Rule: rule, Params: params,
		Path: op.expand(params), Query: encodeQuery(t.query), Body: fwd,
		Resources: resources, Reason: "allowed by rule " + rule,
	}
}

func containsOp(ops []*Op, op *Op) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// queryAllowed reports whether every parameter sent is one the rule
// allows, and the first that is not.
func (ru *rule) queryAllowed(q []queryParam) (string, bool) {
	for _, p := range q {
		if !ru.query[p.key] {
			return p.key, false
		}
	}
	return "", true
}

func newActivation(r Request, op *Op, params map[string]string, q []queryParam, body any) *activation {
	a := &activation{
		method: r.Method, operation: op.String(),
		path: params, query: make(map[string]string, len(q)),
		lease:  map[string]string{"id": r.Lease.ID, "owner": r.Lease.Owner},
		labels: r.Lease.Labels,
	}
	if a.path == nil {
		a.path = map[string]string{}
	}
	if a.labels == nil {
		a.labels = map[string]string{}
	}
	for _, p := range q {
		a.query[p.key] = p.value
	}
	if body == nil {
		a.body, a.fields = map[string]any{}, []string{}
	} else {
		a.body, a.fields = celValue(body), fieldsOf(body)
	}
	return a
}

// pathOf renders a canonical target's path, which holds only [a-z0-9-/]
// and so is safe to show.
func pathOf(t target) string {
	return "/api/" + string(t.api) + "/" + strings.Join(t.segs, "/")
}

// safeMethod shows a method only when it is a plain token.
func safeMethod(m string) string {
	if m == "" || len(m) > 16 {
		return "this method"
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return "this method"
		}
	}
	return m
}

// IsBadBody reports whether err is a body the scope refused.
func IsBadBody(err error) bool { return errors.Is(err, errBody) }

// Networks returns the network allowlist, sorted; nil when any network is
// allowed.
func (sc *Scope) Networks() []string { return sortedKeys(sc.networks) }

// Members returns the member allowlist, sorted; nil when any is allowed.
func (sc *Scope) Members() []string { return sortedKeys(sc.members) }

func sortedKeys(m map[string]bool) []string {
	if m == nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
