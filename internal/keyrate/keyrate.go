package keyrate

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds a Set when New is given no size.
const DefaultMaxKeys = 100_000

// Set is a token bucket per key. It is safe for concurrent use.
type Set struct {
	limit rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// New returns a Set refilling perSecond tokens a second up to burst per
// key, holding at most maxKeys keys (DefaultMaxKeys when not positive).
func New(perSecond float64, burst, maxKeys int) *Set {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Set{limit: rate.Limit(perSecond), burst: burst, max: maxKeys, buckets: map[string]*rate.Limiter{}}
}

// Wait reports how long until key has a token at now, without taking
// one: zero when it has one already.
func (s *Set) Wait(key string, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[key]
	if !ok {
		return 0
	}
	r := b.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return d
}

// Take takes a token for key at now and reports whether there was one.
func (s *Set) Take(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[key]
	if !ok {
		if len(s.buckets) >= s.max {
			s.evict(now)
		}
		b = rate.NewLimiter(s.limit, s.burst)
		s.buckets[key] = b
	}
	return b.AllowN(now, 1)
}

// Len is how many keys the set holds.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buckets)
}

// evict makes room for one key: full buckets first, then a tenth of the
// table, whichever keys map iteration offers.
func (s *Set) evict(now time.Time) {
	for k, b := range s.buckets {
		if b.TokensAt(now) >= float64(s.burst) {
			delete(s.buckets, k)
		}
	}
	for k := range s.buckets {
		if len(s.buckets) < s.max-s.max/10 {
			break
		}
		delete(s.buckets, k)
	}
}
