package upstream

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// epochThreshold separates X-Ratelimit-Reset values that are Unix times from
// those that are a number of seconds to wait: no sane wait is 30 years.
const epochThreshold = 1_000_000_000

// RetryAfterFromResponse reads how long a throttled response asks us to
// wait: Retry-After (seconds or an HTTP-date) first, then X-Ratelimit-Reset,
// which ZeroTier sends as a date such as "Tue, 06 Aug 2024 20:53:48 UTC"
// (epoch seconds and plain seconds are accepted too). Dates are measured
// against the response's own Date header when it has one, so a skewed local
// clock does not stretch or cancel the pause. It returns zero when neither
// header is usable.
func RetryAfterFromResponse(h http.Header, now time.Time) time.Duration {
	ref := now
	if d, ok := parseHTTPDate(h.Get("Date")); ok {
		ref = d
	}
	if d, ok := parseWait(h.Get("Retry-After"), ref, false); ok {
		return d
	}
	if d, ok := parseWait(h.Get("X-Ratelimit-Reset"), ref, true); ok {
		return d
	}
	return 0
}

func parseWait(v string, ref time.Time, epochAllowed bool) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if epochAllowed && n >= epochThreshold {
			return nonNegative(time.Unix(int64(n), 0).Sub(ref)), true
		}
		return time.Duration(n * float64(time.Second)), true
	}
	if t, ok := parseHTTPDate(v); ok {
		return nonNegative(t.Sub(ref)), true
	}
	return 0, false
}

func parseHTTPDate(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	if t, err := http.ParseTime(v); err == nil {
		return t, true
	}
	// http.ParseTime insists on "GMT"; ZeroTier writes "UTC".
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func nonNegative(d time.Duration) time.Duration { return max(d, 0) }
