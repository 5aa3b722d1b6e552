package scope

import (
	"errors"
	"net/url"
	"strings"
)

// maxTarget bounds a request target; Central's longest forwarded path is
// well under 200 bytes.
const maxTarget = 2048

// target is a request target already proven canonical.
type target struct {
	api  API
	segs []string // after /api/vN
	// query keeps the parameters in the order sent, decoded.
	query []queryParam
}

type queryParam struct{ key, value string }

// errNonCanonical says why a target was refused; the text is for
// operators (it never echoes the target).
type errNonCanonical struct{ why string }

func (e *errNonCanonical) Error() string { return "non-canonical request target: " + e.why }

func nonCanonical(why string) error { return &errNonCanonical{why} }

// parseTarget checks an origin-form request target, such as
// "/api/v2/network?stats=true", and splits it. It refuses, never repairs:
// whatever a server might normalise differently is an error here.
func parseTarget(raw string) (target, error) {
	var t target
	switch {
	case len(raw) > maxTarget:
		return t, nonCanonical("longer than the limit")
	case !strings.HasPrefix(raw, "/"):
		return t, nonCanonical("does not start with /")
	case strings.ContainsAny(raw, "#\\%;"):
		return t, nonCanonical("has a fragment, backslash, percent-encoding or semicolon")
	}
	path, rawQuery, hasQuery := strings.Cut(raw, "?")
	segs := strings.Split(path[1:], "/")
	for _, s := range segs {
		if s == "" {
			return t, nonCanonical("has an empty segment (// or a trailing /)")
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return t, nonCanonical("has a character outside [a-z0-9-] in a path segment")
			}
		}
	}
	if len(segs) < 2 || segs[0] != "api" {
		return t, nonCanonical("is not under /api/v1 or /api/v2")
	}
	switch segs[1] {
	case string(APIv1):
		t.api = APIv1
	case string(APIv2):
		t.api = APIv2
	default:
		return t, nonCanonical("is not under /api/v1 or /api/v2")
	}
	t.segs = segs[2:]
	if hasQuery {
		q, err := parseQuery(rawQuery)
		if err != nil {
			return target{}, err
		}
		t.query = q
	}
	return t, nil
}

// parseQuery accepts key=value pairs joined by &, keys of [a-z-] sent
// once each, values of [A-Za-z0-9._-] (no encoding needed, none allowed:
// '%' is refused with the path). An empty query ("?") is no query.
func parseQuery(raw string) ([]queryParam, error) {
	if raw == "" {
		return nil, nil
	}
	var out []queryParam
	for part := range strings.SplitSeq(raw, "&") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return nil, nonCanonical("has a query part that is not key=value")
		}
		if !isQueryKey(k) || !isQueryValue(v) {
			return nil, nonCanonical("has a query key or value with characters that need encoding")
		}
		for _, p := range out {
			if p.key == k {
				return nil, nonCanonical("repeats a query key")
			}
		}
		out = append(out, queryParam{k, v})
	}
	return out, nil
}

func isQueryKey(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return len(s) <= 64
}

func isQueryValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return len(s) <= 128
}

// encodeQuery re-encodes the parameters a rule allows, in the order sent.
func encodeQuery(q []queryParam) string {
	if len(q) == 0 {
		return ""
	}
	v := make([]string, 0, len(q))
	for _, p := range q {
		v = append(v, url.QueryEscape(p.key)+"="+url.QueryEscape(p.value))
	}
	return strings.Join(v, "&")
}

var errOverride = errors.New("method override header")

// overrideHeaders are the headers some servers read to change a request's
// method. Central might be one of them; a request carrying any is refused,
// whatever its value, so a rule about GET can never authorise a DELETE.
var overrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}
