package restjson

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// FieldError is a refused field: its path in the request, as the proto
// names it, and what was wrong, from a fixed list.
type FieldError struct {
	Field string
	Want  string
}

func (e *FieldError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("invalid request body: unknown field %q", e.Field)
	}
	return fmt.Sprintf("invalid request body: field %q must be %s", e.Field, e.Want)
}

// maxNameBytes bounds how much of a caller's unknown key is echoed.
const maxNameBytes = 64

func unknown(path, key string) error {
	if len(key) > maxNameBytes {
		key = key[:maxNameBytes] + "..."
	}
	return &FieldError{Field: join(path, key)}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// checkMessage checks v, a decoded JSON value, against md and returns it
// with Go durations rewritten as protobuf seconds.
func checkMessage(path string, v any, md protoreflect.MessageDescriptor) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch md.FullName() {
	case "google.protobuf.Duration":
		return duration(path, v)
	case "google.protobuf.Timestamp":
		if _, ok := v.(string); !ok {
			return nil, &FieldError{Field: path, Want: `an RFC 3339 time such as "2026-01-02T15:04:05Z"`}
		}
		return v, nil
	}
	if md.FullName().Parent() == "google.protobuf" {
		return v, nil // other well-known types have JSON forms of their own
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &FieldError{Field: orBody(path), Want: "a JSON object"}
	}
	fields := md.Fields()
	for key, val := range obj {
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil {
			return nil, unknown(path, key)
		}
		out, err := checkField(join(path, string(fd.Name())), val, fd)
		if err != nil {
			return nil, err
		}
		obj[key] = out
	}
	return obj, nil
}

func orBody(path string) string {
	if path == "" {
		return "(body)"
	}
	return path
}

func checkField(path string, v any, fd protoreflect.FieldDescriptor) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch {
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, &FieldError{Field: path, Want: "a JSON object"}
		}
		for k, val := range obj {
			out, err := checkSingular(path+"."+k, val, fd.MapValue())
			if err != nil {
				return nil, &FieldError{Field: path, Want: "an object of " + want(fd.MapValue())}
			}
			obj[k] = out
		}
		return obj, nil
	case fd.IsList():
		list, ok := v.([]any)
		if !ok {
			return nil, &FieldError{Field: path, Want: "a JSON array"}
		}
		for i, val := range list {
			out, err := checkSingular(fmt.Sprintf("%s[%d]", path, i), val, fd)
			if err != nil {
				return nil, err
			}
			list[i] = out
		}
		return list, nil
	}
	return checkSingular(path, v, fd)
}

func checkSingular(path string, v any, fd protoreflect.FieldDescriptor) (any, error) {
	bad := &FieldError{Field: path, Want: want(fd)}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return checkMessage(path, v, fd.Message())
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			return nil, bad
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			return nil, bad
		}
	case protoreflect.EnumKind:
		switch e := v.(type) {
		case string:
			if fd.Enum().Values().ByName(protoreflect.Name(e)) == nil {
				return nil, bad
			}
		case json.Number:
			if _, err := strconv.ParseInt(e.String(), 10, 32); err != nil {
				return nil, bad
			}
		default:
			return nil, bad
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if !isNumber(v, func(s string) bool { _, err := strconv.ParseFloat(s, 64); return err == nil }) {
			return nil, bad
		}
	default: // the integer kinds
		bits := 64
		if k := fd.Kind(); k == protoreflect.Int32Kind || k == protoreflect.Sint32Kind || k == protoreflect.Sfixed32Kind ||
			k == protoreflect.Uint32Kind || k == protoreflect.Fixed32Kind {
			bits = 32
		}
		unsigned := strings.HasPrefix(fd.Kind().String(), "uint") || strings.HasPrefix(fd.Kind().String(), "fixed")
		if !isNumber(v, func(s string) bool {
			var err error
			if unsigned {
				_, err = strconv.ParseUint(s, 10, bits)
			} else {
				_, err = strconv.ParseInt(s, 10, bits)
			}
			return err == nil
		}) {
			return nil, bad
		}
	}
	return v, nil
}

// isNumber accepts a JSON number or a string holding one, as protojson
// does for 64-bit integers.
func isNumber(v any, ok func(string) bool) bool {
	switch n := v.(type) {
	case json.Number:
		return ok(n.String())
	case string:
		return ok(n)
	}
	return false
}

// want says what a field takes, in the fixed words the messages use.
func want(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BytesKind:
		return "a base64 string"
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.EnumKind:
		return "one of the enum's names"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if fd.Message().FullName() == "google.protobuf.Duration" {
			return durationWant
		}
		return "a JSON object"
	}
	if fd.Kind() == protoreflect.Int32Kind || fd.Kind() == protoreflect.Sint32Kind || fd.Kind() == protoreflect.Sfixed32Kind {
		return "a 32-bit integer"
	}
	return "an integer"
}

const durationWant = `a duration such as "900s", "15m" or "1h30m"`

// protoDuration is protobuf's JSON form: seconds, up to nine decimals, s.
var protoDuration = regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,9})?s$`)

// duration accepts protobuf's "900s" as it is and rewrites a Go duration
// ("15m", "1h30m", "90s", "1.5h") into it.
func duration(path string, v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, &FieldError{Field: path, Want: durationWant}
	}
	if protoDuration.MatchString(s) {
		return s, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d == math.MinInt64 {
		return nil, &FieldError{Field: path, Want: durationWant}
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	secs, nanos := int64(d/time.Second), int64(d%time.Second)
	if nanos == 0 {
		return fmt.Sprintf("%s%ds", sign, secs), nil
	}
	return fmt.Sprintf("%s%d.%09ds", sign, secs, nanos), nil
}
