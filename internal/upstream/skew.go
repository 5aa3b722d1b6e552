package upstream

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// SkewThreshold is the clock difference below which the broker trusts its
// own clock: a Date header has one-second resolution, so anything smaller
// is noise.
const SkewThreshold = time.Second

// skewSamples is how many recent responses the estimate is the median of,
// so one slow response cannot swing it.
const skewSamples = 9

// ClockSkew estimates how far an upstream's clock is ahead of the
// broker's, from the Date header of its responses. New Central checks a
// key's expiry on its own clock, so an expiry the broker computes must be
// moved onto that clock before it is sent.
type ClockSkew struct {
	now func() time.Time

	mu      sync.Mutex
	samples []time.Duration
	next    int
	// raw is the median sample; offset the estimate, half a second above.
	raw    time.Duration
	offset time.Duration
	onSet  func(time.Duration)
}

// NewClockSkew measures against now, which must be the clock the broker
// computes expiries with; nil means time.Now.
func NewClockSkew(now func() time.Time) *ClockSkew {
	if now == nil {
		now = time.Now
	}
	return &ClockSkew{now: now}
}

// Now is the broker's clock this estimate is relative to.
func (s *ClockSkew) Now() time.Time { return s.now() }

// Observe records one response: sent and received bracket it on the
// broker's clock; date is its Date header, Central's clock truncated to
// the second, so a sample is up to a second below the true offset.
func (s *ClockSkew) Observe(date, sent, received time.Time) {
	mid := sent.Add(received.Sub(sent) / 2)
	sample := date.Sub(mid)
	s.mu.Lock()
	if len(s.samples) < skewSamples {
		s.samples = append(s.samples, sample)
	} else {
		s.samples[s.next] = sample
		s.next = (s.next + 1) % skewSamples
	}
	sorted := slices.Clone(s.samples)
	slices.Sort(sorted)
	s.raw = sorted[len(sorted)/2]
	s.offset = s.raw + 500*time.Millisecond
	onSet, offset := s.onSet, s.offset
	s.mu.Unlock()
	if onSet != nil {
		onSet(offset)
	}
}

// Offset is the upstream's clock minus the broker's, zero until a response
// has been seen.
func (s *ClockSkew) Offset() time.Duration {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset
}

// effective is the offset to apply: zero within SkewThreshold, else
// whole seconds — the precision a Date header allows — so that a time
// moved onto Central's clock and back comes back unchanged. A true offset
// of whole seconds gives samples within the second below it, so the
// ceiling finds it exactly.
func (s *ClockSkew) effective() time.Duration {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 || (s.offset > -SkewThreshold && s.offset < SkewThreshold) {
		return 0
	}
	ceil := s.raw.Truncate(time.Second)
	if ceil < s.raw {
		ceil += time.Second
	}
	return ceil
}

// ToUpstream moves t from the broker's clock onto the upstream's.
func (s *ClockSkew) ToUpstream(t time.Time) time.Time {
	if s == nil || t.IsZero() {
		return t
	}
	return t.Add(s.effective())
}

// FromUpstream moves t from the upstream's clock onto the broker's.
func (s *ClockSkew) FromUpstream(t time.Time) time.Time {
	if s == nil || t.IsZero() {
		return t
	}
	return t.Add(-s.effective())
}

// notify calls f with every new estimate (the gauge).
func (s *ClockSkew) notify(f func(time.Duration)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSet = f
}

// skewTransport feeds each response's Date header to the estimate.
type skewTransport struct {
	next http.RoundTripper
	skew *ClockSkew
}

func (t *skewTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := t.skew.now()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if d, ok := parseHTTPDate(resp.Header.Get("Date")); ok {
		t.skew.Observe(d, sent, t.skew.now())
	}
	return resp, nil
}
