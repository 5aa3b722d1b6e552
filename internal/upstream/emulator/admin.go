package emulator

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// FaultSet is the body of GET and PUT /_emulator/faults.
type FaultSet struct {
	Faults map[string]Fault `json:"faults"`
	// RateLimit is the global requests-per-second limit; zero for none.
	RateLimit float64 `json:"rateLimit"`
}

// ClockAdvance is the body of POST /_emulator/clock.
type ClockAdvance struct {
	Advance Duration `json:"advance"`
}

func (s *Server) adminRoutes() {
	s.mux.HandleFunc("GET /_emulator/faults", s.admin(s.getFaults))
	s.mux.HandleFunc("PUT /_emulator/faults", s.admin(s.putFaults))
	s.mux.HandleFunc("PUT /_emulator/faults/{route}", s.admin(s.putFault))
	s.mux.HandleFunc("DELETE /_emulator/faults/{route}", s.admin(s.deleteFault))
	s.mux.HandleFunc("GET /_emulator/tokens", s.admin(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Tokens())
	}))
	s.mux.HandleFunc("GET /_emulator/networks", s.admin(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Networks())
	}))
	s.mux.HandleFunc("GET /_emulator/counters", s.admin(s.getCounters))
	s.mux.HandleFunc("POST /_emulator/reset", s.admin(func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	}))
	s.mux.HandleFunc("POST /_emulator/clock", s.admin(s.postClock))
	s.mux.HandleFunc("POST /_emulator/keys", s.admin(s.postKeys))
	// Unauthenticated on purpose: container healthchecks hold no token.
	s.mux.HandleFunc("GET /_emulator/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
}

// admin guards the admin API with the admin credential, under either
// scheme, and keeps it out of the API counters.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, secret := credential(r)
		if (scheme != "bearer" && scheme != "token") || !s.isAdmin(secret) {
			unauthorized(w)
			return
		}
		h(w, r)
	}
}

func (s *Server) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, FaultSet{Faults: s.Faults(), RateLimit: s.RateLimit()})
}

func (s *Server) putFaults(w http.ResponseWriter, r *http.Request) {
	var fs FaultSet
	if err := readJSON(r, &fs); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	if fs.RateLimit < 0 {
		writeMessage(w, http.StatusBadRequest, "rateLimit must not be negative")
		return
	}
	for route, f := range fs.Faults {
		if err := checkRoute(route); err != nil {
			writeMessage(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := f.validate(); err != nil {
			writeMessage(w, http.StatusBadRequest, route+": "+err.Error())
			return
		}
	}
	s.mu.Lock()
	s.faults = make(map[string]Fault, len(fs.Faults))
	for route, f := range fs.Faults {
		s.faults[route] = f
	}
	s.setRateLimitLocked(fs.RateLimit)
	s.mu.Unlock()
	s.getFaults(w, r)
}

func (s *Server) putFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := readJSON(r, &f); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.SetFault(r.PathValue("route"), f); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	s.getFaults(w, r)
}

func (s *Server) deleteFault(w http.ResponseWriter, r *http.Request) {
	s.ClearFault(r.PathValue("route"))
	s.getFaults(w, r)
}

func (s *Server) getCounters(w http.ResponseWriter, _ *http.Request) {
	out := map[string]map[string]int{}
	for route, m := range s.Counters() {
		out[route] = make(map[string]int, len(m))
		for st, n := range m {
			out[route][strconv.Itoa(st)] = n
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postClock(w http.ResponseWriter, r *http.Request) {
	var c ClockAdvance
	if err := readJSON(r, &c); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	if c.Advance < 0 {
		writeMessage(w, http.StatusBadRequest, "advance must not be negative")
		return
	}
	now := s.Advance(c.Advance.duration())
	writeJSON(w, http.StatusOK, map[string]any{"now": now.UTC()})
}

// SeedKeysRequest is the body of POST /_emulator/keys.
type SeedKeysRequest struct {
	ServiceAccount string    `json:"serviceAccount"`
	Keys           []SeedKey `json:"keys"`
}

// maxSeedBody bounds a seeding request: some 100,000 keys.
const maxSeedBody = 16 << 20

func (s *Server) postKeys(w http.ResponseWriter, r *http.Request) {
	var req SeedKeysRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSeedBody)).Decode(&req); err != nil {
		writeMessage(w, http.StatusBadRequest, "body must be a JSON SeedKeysRequest")
		return
	}
	ids, err := s.SeedKeys(req.ServiceAccount, req.Keys)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ids": ids})
}
