package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decoder fills a struct from the generic tree a YAML document decodes
// to, by the fields' json tags. encoding/json's strict mode stops at the
// first unknown field and does not say where it was; walking the tree
// ourselves reports every problem with its full path.
type decoder struct {
	errs *fieldErrors
	// notices are things that loaded but should be written differently,
	// logged at start-up.
	notices []string
}

// selfDecoder is a config type whose YAML has more than one shape.
type selfDecoder interface {
	decodeYAML(d *decoder, path string, in any)
}

var selfDecoderType = reflect.TypeFor[selfDecoder]()

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) decode(path string, in any, out reflect.Value) {
	if in == nil {
		// "key:" with no value, or an explicit null, keeps the default.
		return
	}
	if out.Type() == durationType {
		d.duration(path, in, out)
		return
	}
	if out.CanAddr() && out.Addr().Type().Implements(selfDecoderType) {
		out.Addr().Interface().(selfDecoder).decodeYAML(d, path, in)
		return
	}
	switch out.Kind() {
	case reflect.Pointer:
		if out.IsNil() {
			out.Set(reflect.New(out.Type().Elem()))
		}
		d.decode(path, in, out.Elem())
	case reflect.Struct:
		d.object(path, in, out)
	case reflect.Slice:
		d.list(path, in, out)
	case reflect.String:
		switch v := in.(type) {
		case string:
			out.SetString(v)
		case json.Number:
			// An unquoted id such as 12345 is still meant as text.
			out.SetString(v.String())
		default:
			d.errs.add(path, "must be a string, got %s", describe(in))
		}
	case reflect.Bool:
		b, ok := in.(bool)
		if !ok {
			d.errs.add(path, "must be true or false, got %s", describe(in))
			return
		}
		out.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, ok := in.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			d.errs.add(path, "must be a whole number, got %s", describe(in))
			return
		}
		out.SetInt(i)
	case reflect.Float64:
		n, ok := in.(json.Number)
		f, err := n.Float64()
		if !ok || err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.errs.add(path, "must be a number, got %s", describe(in))
			return
		}
		out.SetFloat(f)
	default:
		// Only reachable if a config struct gains a field of a kind this
		// decoder was never taught; tests load every field.
		d.errs.add(path, "cannot decode into %s", out.Type())
	}
}

func (d *decoder) object(path string, in any, out reflect.Value) {
	m, ok := in.(map[string]any)
	if !ok {
		d.errs.add(path, "must be a mapping, got %s", describe(in))
		return
	}
	fields := fieldsOf(out.Type())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		i, ok := fields[k]
		if !ok {
			d.errs.add(join(path, k), "unknown field")
			continue
		}
		d.decode(join(path, k), m[k], out.Field(i))
	}
}

func (d *decoder) list(path string, in any, out reflect.Value) {
	l, ok := in.([]any)
	if !ok {
		d.errs.add(path, "must be a list, got %s", describe(in))
		return
	}
	s := reflect.MakeSlice(out.Type(), len(l), len(l))
	for i, v := range l {
		d.decode(path+"["+strconv.Itoa(i)+"]", v, s.Index(i))
	}
	out.Set(s)
}

func (d *decoder) duration(path string, in any, out reflect.Value) {
	s, ok := in.(string)
	if !ok {
		d.errs.add(path, `must be a duration string such as "15m", got %s`, describe(in))
		return
	}
	v, err := parseDuration(s)
	if err != nil {
		d.errs.add(path, `must be a duration such as "15m", "1h30m" or "30d", got %q`, s)
		return
	}
	out.SetInt(int64(v))
}

// parseDuration is time.ParseDuration plus whole days ("30d"), the unit
// key lifetimes are thought of in.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("bad number of days %q", days)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// fieldsOf maps json tag names to field indexes. Fields tagged "-" hold
// values Load derives (secrets, compiled policies) and cannot be set from
// the file.
func fieldsOf(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = i
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names a value's YAML type without echoing it: a mistyped field
// might hold a secret pasted into the wrong place.
func describe(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
