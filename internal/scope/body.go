package scope

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds JSON nesting; Central's deepest body is three levels.
const maxDepth = 32

var errBody = errors.New("bad body")

// bodyError says what is wrong with a body, in words safe for the caller:
// it never quotes the body.
type bodyError struct{ msg string }

func (e *bodyError) Error() string { return e.msg }
func (e *bodyError) Unwrap() error { return errBody }

func badBody(msg string) error { return &bodyError{msg} }

// parseJSON reads exactly one JSON value, refusing what parsers disagree
// about: invalid UTF-8 (which encoding/json would silently replace),
// duplicate object keys (first or last wins depending on the parser),
// trailing data and deep nesting. Numbers stay json.Number so that the
// value re-encodes to the same numbers.
func parseJSON(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, badBody("request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badBody("request body holds more than one JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, badBody("request body is nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, badBody("request body is not valid JSON")
	}
	switch d := tok.(type) {
	case json.Delim:
		switch d {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, badBody("request body is not valid JSON")
				}
				k, ok := kt.(string)
				if !ok {
					return nil, badBody("request body is not valid JSON")
				}
				if _, dup := m[k]; dup {
					return nil, badBody("request body repeats a key in one object")
				}
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, badBody("request body is not valid JSON")
			}
			return m, nil
		case '[':
			l := []any{}
			for dec.More() {
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, badBody("request body is not valid JSON")
			}
			return l, nil
		}
		return nil, badBody("request body is not valid JSON")
	default:
		return tok, nil // string, json.Number, bool or nil
	}
}

// encodeJSON writes the canonical form of a parsed value: what is
// forwarded is what was checked, byte for byte equivalent to Central.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// celValue converts a parsed value for CEL: whole numbers that fit become
// int64, other numbers float64.
func celValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = celValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = celValue(e)
		}
		return out
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil && !math.IsInf(f, 0) {
			return f
		}
		return x.String()
	}
	return v
}

// fieldsOf lists the dotted paths of the non-null leaves of a body:
// scalars and arrays are leaves, objects are walked, and null counts as
// absent (some clients send every field they do not set as null). For a
// list body it is the union over its objects' leaves. Sorted, unique.
func fieldsOf(v any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case nil:
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, e)
			}
		default:
			if prefix != "" {
				out = append(out, prefix)
			}
		}
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if _, ok := e.(map[string]any); ok {
				walk("", e)
			}
		}
	default:
		walk("", v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkShape parses body for an operation that takes kind, and returns
// the parsed value (nil for an empty body) and the member ids a bulk body
// names.
func checkShape(kind BodyKind, method string, body []byte) (any, []string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		switch kind {
		case BodyNone:
			return nil, nil, nil
		default:
			return nil, nil, badBody("this operation needs a JSON request body")
		}
	}
	if method == "GET" {
		return nil, nil, badBody("a GET request must not have a body")
	}
	v, err := parseJSON(body)
	if err != nil {
		return nil, nil, err
	}
	switch kind {
	case BodyNone:
		if m, ok := v.(map[string]any); !ok || len(m) != 0 {
			return nil, nil, badBody("this operation takes no request body (or {})")
		}
		return v, nil, nil
	case BodyObject:
		if _, ok := v.(map[string]any); !ok {
			return nil, nil, badBody("this operation takes a JSON object")
		}
		return v, nil, nil
	case BodyMemberIDs:
		l, ok := v.([]any)
		if !ok || len(l) == 0 {
			return nil, nil, badBody("this operation takes a non-empty JSON array of member ids")
		}
		ids := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok || !validParam(ParamMember, s) {
				return nil, nil, badBody("each member id must be 10 lowercase hex digits")
			}
			ids = append(ids, s)
		}
		return v, ids, nil
	case BodyMemberObjects:
		l, ok := v.([]any)
		if !ok || len(l) == 0 {
			return nil, nil, badBody(`this operation takes a non-empty JSON array of objects with "deviceId"`)
		}
		ids := make([]string, 0, len(l))
		for _, e := range l {
			m, ok := e.(map[string]any)
			s, _ := m["deviceId"].(string)
			if !ok || !validParam(ParamMember, s) {
				return nil, nil, badBody(`each item needs a "deviceId" of 10 lowercase hex digits`)
			}
			ids = append(ids, s)
		}
		return v, ids, nil
	}
	return nil, nil, badBody("unsupported body")
}

// resourceList renders ids for the audit trail, at most a few of them.
func resourceList(name string, ids []string) string {
	const show = 10
	if len(ids) <= show {
		return name + "=" + strings.Join(ids, ",")
	}
	return name + "=" + strings.Join(ids[:show], ",") + ",…(" + itoa(len(ids)-show) + " more)"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
