package emulator

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// zeroTierDate is how Central was seen to write X-Ratelimit-Reset.
const zeroTierDate = "Mon, 02 Jan 2006 15:04:05 UTC"

func (s *Server) routes() {
	handlers := map[string]http.HandlerFunc{
		RouteV2ListOrgs:          s.v2ListOrgs,
		RouteV2GetServiceAccount: s.v2GetServiceAccount,
		RouteV2CreateKey:         s.v2CreateKey,
		RouteV2GetKey:            s.v2GetKey,
		RouteV2DeleteKey:         s.v2DeleteKey,
		RouteV1Status:            s.v1Status,
		RouteV1GetUser:           s.v1GetUser,
		RouteV1CreateToken:       s.v1CreateToken,
		RouteV1DeleteToken:       s.v1DeleteToken,
		RouteV1RandomToken:       s.v1RandomToken,

		RouteV2ListServiceAccounts:  s.v2ListServiceAccounts,
		RouteV2CreateServiceAccount: s.v2CreateServiceAccount,
		RouteV2ListNetworks:         s.v2ListNetworks,
		RouteV2CreateNetwork:        s.v2CreateNetwork,
		RouteV2GetNetwork:           s.v2GetNetwork,
		RouteV2UpdateNetwork:        s.v2UpdateNetwork,
		RouteV2DeleteNetwork:        s.v2DeleteNetwork,
		RouteV2ListMembers:          s.v2ListMembers,
		RouteV2AddMembers:           s.v2AddMembers,
		RouteV2DeleteMembers:        s.v2DeleteMembers,
		RouteV2AuthorizeMembers:     s.v2BulkAction(actionAuthorize),
		RouteV2DeauthorizeMembers:   s.v2BulkAction(actionDeauthorize),
		RouteV2RejectMembers:        s.v2BulkAction(actionReject),
		RouteV2GetMember:            s.v2GetMember,
		RouteV2UpdateMember:         s.v2UpdateMember,
		RouteV2AuthorizeMember:      s.v2MemberAction(actionAuthorize),
		RouteV2DeauthorizeMember:    s.v2MemberAction(actionDeauthorize),
		RouteV2RejectMember:         s.v2MemberAction(actionReject),

		RouteV1ListNetworks:  s.v1ListNetworks,
		RouteV1CreateNetwork: s.v1CreateNetwork,
		RouteV1GetNetwork:    s.v1GetNetwork,
		RouteV1UpdateNetwork: s.v1UpdateNetwork,
		RouteV1DeleteNetwork: s.v1DeleteNetwork,
		RouteV1ListMembers:   s.v1ListMembers,
		RouteV1GetMember:     s.v1GetMember,
		RouteV1UpdateMember:  s.v1UpdateMember,
		RouteV1DeleteMember:  s.v1DeleteMember,
	}
	for _, r := range apiRoutes {
		h := handlers[r.name]
		if h == nil {
			panic("emulator: no handler for route " + r.name)
		}
		s.mux.Handle(r.pattern, s.api(r.name, h))
	}
	s.adminRoutes()
	s.mux.Handle("/", s.api(RouteUnhandled, func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, http.StatusNotImplemented,
			fmt.Sprintf("emulator: no route for %s %s", r.Method, r.URL.Path))
	}))
}

// statusRecorder remembers the status a handler wrote, for the counters.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// api wraps an API route: count it, apply the global rate limit, then any
// fault, then the handler.
func (s *Server) api(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		s.enter(route, 1)
		defer s.enter(route, -1)
		defer func() {
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			s.count(route, rec.status)
		}()
		if wait, limited := s.rateLimited(); limited {
			s.throttle(rec, wait, ThrottleBoth)
			return
		}
		if s.applyFault(rec, r, route) {
			return
		}
		h(rec, r)
	})
}

// rateLimited takes one token from the global bucket, reporting how long
// until the next one when none is left.
func (s *Server) rateLimited() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limiter == nil {
		return 0, false
	}
	now := s.nowLocked()
	if s.limiter.AllowN(now, 1) {
		return 0, false
	}
	r := s.limiter.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return max(wait, time.Second/time.Duration(max(1, int(s.limit)))), true
}

// takeFault returns the fault for route if it hits this request, counting
// it against Times.
func (s *Server) takeFault(route string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := route
	f, ok := s.faults[key]
	if !ok && route != RouteUnhandled {
		key = RouteAll
		f, ok = s.faults[key]
	}
	if !ok {
		return Fault{}, false
	}
	if f.ErrorRate > 0 && f.ErrorRate < 1 && s.rng.Float64() >= f.ErrorRate {
		return Fault{}, false
	}
	if f.Times > 0 {
		if f.Times == 1 {
			delete(s.faults, key)
		} else {
			g := s.faults[key]
			g.Times--
			s.faults[key] = g
		}
	}
	return f, true
}

// applyFault plays f's effects in order and reports whether it answered.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, route string) bool {
	f, ok := s.takeFault(route)
	if !ok {
		return false
	}
	if f.Latency > 0 {
		t := time.NewTimer(time.Duration(f.Latency))
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-s.closed:
			writeMessage(w, http.StatusServiceUnavailable, "emulator shutting down")
			return true
		}
	}
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		writeMessage(w, http.StatusGatewayTimeout, "emulator: injected hang")
		return true
	}
	if f.Throttle > 0 {
		s.throttle(w, time.Duration(f.Throttle), f.ThrottleHeaders)
		return true
	}
	if st := f.errorStatus(); st != 0 {
		writeMessage(w, st, "emulator: injected fault")
		return true
	}
	return false
}

// throttle answers 429 with the headers style asks for. Date comes from the
// emulator's clock, so a client measuring the reset against it gets the
// intended wait whatever clock the test runs on.
func (s *Server) throttle(w http.ResponseWriter, wait time.Duration, style string) {
	now := s.Now()
	h := w.Header()
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	if style != ThrottleReset {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	}
	if style != ThrottleRetryAfter {
		limit := s.RateLimit()
		if limit == 0 {
			limit = 100
		}
		h.Set("X-Ratelimit-Limit", strconv.Itoa(int(limit)))
		h.Set("X-Ratelimit-Remaining", "0")
		h.Set("X-Ratelimit-Reset", now.Add(wait).UTC().Format(zeroTierDate))
	}
	writeMessage(w, http.StatusTooManyRequests, "rate limit exceeded")
}
