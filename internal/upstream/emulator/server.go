package emulator

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Server is the emulator's state and its http.Handler.
type Server struct {
	cfg       config
	adminHash string
	mux       *http.ServeMux
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	st       *state
	offset   time.Duration
	faults   map[string]Fault
	counters map[string]map[int]int
	inFlight map[string]int
	limit    float64
	limiter  *rate.Limiter
	rng      *mrand.Rand
}

// New builds a Server. It fails on an invalid option, such as a missing
// admin token or a fault on an unknown route.
func New(opts ...Option) (*Server, error) {
	cfg := buildConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.rand == nil {
		cfg.rand = rand.Reader
	}
	seed := cfg.seed
	if !cfg.seeded {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	s := &Server{
		cfg:       cfg,
		adminHash: hashSecret(cfg.adminToken),
		mux:       http.NewServeMux(),
		closed:    make(chan struct{}),
		rng:       mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	// The plaintext admin token is not needed past this point.
	s.cfg.adminToken = ""
	s.resetLocked()
	s.routes()
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close releases requests held by hang or latency faults, so an
// http.Server can shut down. It is safe to call more than once.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// Now is the emulator's clock — Central's clock: the configured clock
// plus the clock offset and any Advance.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Server) nowLocked() time.Time { return s.cfg.now().Add(s.cfg.clockOffset + s.offset) }

// Advance moves the emulator's clock forward by d, e.g. past a key's expiry.
func (s *Server) Advance(d time.Duration) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
	return s.nowLocked()
}

// Reset forgets every minted token, fault, counter and clock advance, and
// restores the configured rate limit and faults.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Server) resetLocked() {
	s.offset = 0
	s.st = newState(&s.cfg, s.adminHash, s.nowLocked())
	s.counters = map[string]map[int]int{}
	if s.inFlight == nil {
		s.inFlight = map[string]int{}
	}
	s.faults = make(map[string]Fault, len(s.cfg.faults))
	for r, f := range s.cfg.faults {
		s.faults[r] = f
	}
	s.setRateLimitLocked(s.cfg.rateLimit)
}

// SetFault injects f on route (a Route* constant or RouteAll).
func (s *Server) SetFault(route string, f Fault) error {
	if err := checkRoute(route); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = f
	return nil
}

// ClearFault removes the fault on route.
func (s *Server) ClearFault(route string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.faults, route)
}

// Faults returns the faults in force.
func (s *Server) Faults() map[string]Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Fault, len(s.faults))
	for r, f := range s.faults {
		out[r] = f
	}
	return out
}

// SetRateLimit answers 429 to API requests beyond perSecond; zero lifts it.
func (s *Server) SetRateLimit(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setRateLimitLocked(perSecond)
}

// RateLimit returns the global limit in requests per second, zero for none.
func (s *Server) RateLimit() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit
}

func (s *Server) setRateLimitLocked(perSecond float64) {
	s.limit = max(perSecond, 0)
	s.limiter = nil
	if s.limit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(s.limit), max(1, int(s.limit)))
	}
}

// Count returns how many requests route has answered with status.
func (s *Server) Count(route string, status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters[route][status]
}

// Counters returns the request counts by route and status.
func (s *Server) Counters() map[string]map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[int]int, len(s.counters))
	for r, m := range s.counters {
		out[r] = make(map[int]int, len(m))
		for st, n := range m {
			out[r][st] = n
		}
	}
	return out
}

// InFlight returns how many requests route is handling right now, so a
// test can act while one is held (by a hang fault, say).
func (s *Server) InFlight(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight[route]
}

func (s *Server) enter(route string, d int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight[route] += d
}

func (s *Server) count(route string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.counters[route]
	if m == nil {
		m = map[int]int{}
		s.counters[route] = m
	}
	m[status]++
}

// ServiceAccounts lists the New Central service accounts seeded at start,
// the admin key's last if it was not among them.
func (s *Server) ServiceAccounts() []string {
	out := slices.Clone(s.cfg.serviceAccounts)
	if !slices.Contains(out, s.cfg.adminAccount) {
		out = append(out, s.cfg.adminAccount)
	}
	return out
}

// AdminAccount is the service account holding the seeded admin key.
func (s *Server) AdminAccount() string { return s.cfg.adminAccount }

// LegacyUsers lists the Legacy users seeded at start.
func (s *Server) LegacyUsers() []string { return slices.Clone(s.cfg.legacyUsers) }

// AdminKeyID is the id of the key seeded from the admin token.
func (s *Server) AdminKeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.st.keys {
		if k.admin {
			return k.id
		}
	}
	return ""
}

// LegacyAdminTokenName is the name of the Legacy token seeded from the
// admin token.
func (s *Server) LegacyAdminTokenName() string { return s.cfg.legacyAdminTokenName }
