package scope

import "strings"

// API is the ZeroTier API a purpose's upstream speaks.
type API string

const (
	// APIv1 is Legacy Central, paths under /api/v1.
	APIv1 API = "v1"
	// APIv2 is New Central, paths under /api/v2.
	APIv2 API = "v2"
)

// Path parameters, typed: a template's {network} only matches a network
// id and {member} only a member (node, device) id.
const (
	ParamNetwork = "network"
	ParamMember  = "member"
)

// BodyKind is the request body an operation takes.
type BodyKind int

const (
	// BodyNone takes no body; an empty one or {} is accepted.
	BodyNone BodyKind = iota
	// BodyObject takes one JSON object (a partial update).
	BodyObject
	// BodyMemberIDs takes a JSON array of member ids (v2 bulk authorise).
	BodyMemberIDs
	// BodyMemberObjects takes a JSON array of objects, each with a
	// "deviceId" (v2 bulk add and delete).
	BodyMemberObjects
)

// Collection describes a list response, so it can be cut down to what the
// scope allows.
type Collection struct {
	// Items is the key holding the list in an object response, or "" when
	// the response is a bare array.
	Items string
	// IDField is the item field that holds its id.
	IDField string
	// Resource is ParamNetwork or ParamMember: which allowlist applies.
	Resource string
	// Drop lists top-level keys removed from a filtered object response,
	// such as aggregate statistics over items the caller may not see.
	Drop []string
}

// Op is one Central operation the proxy can forward.
type Op struct {
	Method   string
	Template string
	API      API
	Body     BodyKind
	// Query lists the query parameters Central accepts on this operation;
	// a rule may allow some of them.
	Query []string
	// List is set for operations that return a collection.
	List *Collection

	segs []string // Template's segments after /api/vN
}

// String is the operation as rules name it: "METHOD /template".
func (o *Op) String() string { return o.Method + " " + o.Template }

// Operations lists the catalogue, for documentation and error messages.
func Operations(api API) []string {
	var out []string
	for _, o := range catalog {
		if o.API == api {
			out = append(out, o.String())
		}
	}
	return out
}

var (
	networkList = &Collection{Items: "items", IDField: "id", Resource: ParamNetwork, Drop: []string{"stats"}}
	v1Networks  = &Collection{IDField: "id", Resource: ParamNetwork}
	v2Members   = &Collection{IDField: "deviceId", Resource: ParamMember}
	v1Members   = &Collection{IDField: "nodeId", Resource: ParamMember}
)

// catalog holds every operation the proxy knows: the network and member
// routes of both APIs (see the reference notes on Central's routes).
// Anything else is not forwarded.
var catalog = func() []*Op {
	v2 := "/api/v2/network"
	nw := v2 + "/{network}"
	mb := nw + "/member"
	v1 := "/api/v1/network"
	nw1 := v1 + "/{network}"
	mb1 := nw1 + "/member"
	ops := []*Op{
		{Method: "GET", Template: v2, API: APIv2, List: networkList, Query: []string{"org-id", "stats", "permission-check"}},
		{Method: "GET", Template: nw, API: APIv2},
		{Method: "POST", Template: nw, API: APIv2, Body: BodyObject},
		{Method: "DELETE", Template: nw, API: APIv2},
		{Method: "GET", Template: mb, API: APIv2, List: v2Members},
		{Method: "POST", Template: mb, API: APIv2, Body: BodyMemberObjects},
		{Method: "DELETE", Template: mb, API: APIv2, Body: BodyMemberObjects},
		{Method: "POST", Template: mb + "/authorize", API: APIv2, Body: BodyMemberIDs},
		{Method: "POST", Template: mb + "/de-authorize", API: APIv2, Body: BodyMemberIDs},
		{Method: "POST", Template: mb + "/reject", API: APIv2, Body: BodyMemberIDs},
		{Method: "GET", Template: mb + "/{member}", API: APIv2},
		{Method: "POST", Template: mb + "/{member}", API: APIv2, Body: BodyObject},
		{Method: "POST", Template: mb + "/{member}/authorize", API: APIv2},
		{Method: "POST", Template: mb + "/{member}/de-authorize", API: APIv2},
		{Method: "POST", Template: mb + "/{member}/reject", API: APIv2},

		{Method: "GET", Template: v1, API: APIv1, List: v1Networks},
		{Method: "POST", Template: v1, API: APIv1, Body: BodyObject},
		{Method: "GET", Template: nw1, API: APIv1},
		{Method: "POST", Template: nw1, API: APIv1, Body: BodyObject},
		{Method: "DELETE", Template: nw1, API: APIv1},
		{Method: "GET", Template: mb1, API: APIv1, List: v1Members},
		{Method: "GET", Template: mb1 + "/{member}", API: APIv1},
		{Method: "POST", Template: mb1 + "/{member}", API: APIv1, Body: BodyObject},
		{Method: "DELETE", Template: mb1 + "/{member}", API: APIv1},
	}
	for _, o := range ops {
		o.segs = strings.Split(strings.TrimPrefix(o.Template, "/api/"+string(o.API)+"/"), "/")
	}
	return ops
}()

// lookup finds a catalogue operation by its rule spelling.
func lookup(s string) *Op {
	for _, o := range catalog {
		if o.String() == s {
			return o
		}
	}
	return nil
}

// validParam reports whether v is a well-formed value of parameter name.
func validParam(name, v string) bool {
	switch name {
	case ParamNetwork:
		return isLowerHex(v, 16)
	case ParamMember:
		return isLowerHex(v, 10)
	}
	return false
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// match finds the operation for method and segments. Literal segments
// must be equal, parameters well formed; so "authorize" can never be
// taken for a member id. sameMethod is false when only the method failed.
func match(api API, method string, segs []string) (op *Op, params map[string]string, pathKnown bool) {
	for _, o := range catalog {
		if o.API != api || len(o.segs) != len(segs) {
			continue
		}
		p, ok := bind(o.segs, segs)
		if !ok {
			continue
		}
		pathKnown = true
		if o.Method == method {
			return o, p, true
		}
	}
	return nil, nil, pathKnown
}

func bind(tmpl, segs []string) (map[string]string, bool) {
	var params map[string]string
	for i, t := range tmpl {
		if name, ok := paramName(t); ok {
			if !validParam(name, segs[i]) {
				return nil, false
			}
			if params == nil {
				params = make(map[string]string, 2)
			}
			params[name] = segs[i]
			continue
		}
		if t != segs[i] {
			return nil, false
		}
	}
	return params, true
}

func paramName(seg string) (string, bool) {
	if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}

// expand fills o's template with checked parameters. Parameters are
// lowercase hex, so nothing needs escaping.
func (o *Op) expand(params map[string]string) string {
	var b strings.Builder
	b.WriteString("/api/")
	b.WriteString(string(o.API))
	for _, s := range o.segs {
		b.WriteByte('/')
		if name, ok := paramName(s); ok {
			b.WriteString(params[name])
			continue
		}
		b.WriteString(s)
	}
	return b.String()
}
