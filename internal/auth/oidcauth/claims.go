package oidcauth

import (
	"fmt"
	"math"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// checkTimes enforces exp (required, and no further off than
// maxLifetime), nbf and iat (when present) with the allowed skew either
// way.
func checkTimes(claims map[string]any, now time.Time, skew, maxLifetime time.Duration) error {
	exp, ok, err := numericDate(claims, "exp")
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("token has no exp: %w", errs.Unauthenticated)
	case now.After(exp.Add(skew)):
		return fmt.Errorf("token expired at %s: %w", exp.UTC().Format(time.RFC3339), errs.Unauthenticated)
	case exp.Sub(now) > maxLifetime+skew:
		return fmt.Errorf("token expires at %s, more than %s away: %w", exp.UTC().Format(time.RFC3339), maxLifetime, errs.Unauthenticated)
	}
	nbf, ok, err := numericDate(claims, "nbf")
	if err != nil {
		return err
	}
	if ok && now.Add(skew).Before(nbf) {
		return fmt.Errorf("token not valid before %s: %w", nbf.UTC().Format(time.RFC3339), errs.Unauthenticated)
	}
	iat, ok, err := numericDate(claims, "iat")
	if err != nil {
		return err
	}
	if ok && now.Add(skew).Before(iat) {
		return fmt.Errorf("token issued in the future (%s): %w", iat.UTC().Format(time.RFC3339), errs.Unauthenticated)
	}
	if ok && exp.Sub(iat) > maxLifetime+skew {
		return fmt.Errorf("token lives %s, longer than %s: %w", exp.Sub(iat), maxLifetime, errs.Unauthenticated)
	}
	return nil
}

func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var secs float64
	switch n := v.(type) {
	case int64:
		secs = float64(n)
	case float64:
		secs = n
	default:
		return time.Time{}, false, fmt.Errorf("claim %s is not a number: %w", name, errs.Unauthenticated)
	}
	if math.IsNaN(secs) || secs < 0 || secs > 1<<40 {
		return time.Time{}, false, fmt.Errorf("claim %s is out of range: %w", name, errs.Unauthenticated)
	}
	return time.Unix(int64(secs), 0), true, nil
}

// keep returns iss, sub and the named claims that are present.
func keep(claims map[string]any, names []string) map[string]any {
	out := make(map[string]any, len(names)+2)
	for _, n := range append([]string{"iss", "sub"}, names...) {
		if v, ok := claims[n]; ok {
			out[n] = v
		}
	}
	return out
}
