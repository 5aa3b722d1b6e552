package auth

import (
	"encoding/json"
	"math"
)

// NormalizeClaims gives decoded JSON claims the types policy rules expect:
// integral numbers become int64 (so a CEL rule can compare run_attempt
// with 1), other numbers float64, recursively through maps and lists. The
// live authenticators and the policy dry-run tool both use it, so a rule
// sees the same value in either. Numbers too large for a float64 are kept
// as their decimal text.
func NormalizeClaims(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return x.String()
		}
		return f
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = NormalizeClaims(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = NormalizeClaims(e)
		}
		return x
	}
	return v
}
