package emulator

import (
	"bytes"
	"fmt"
	"io"
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
	// Central answers an unknown route 404 with its usual JSON message, the
	// very shape a client could take for "key already deleted".
	s.mux.Handle("/", s.api(RouteUnhandled, func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, s.cfg.unknownRouteStatus, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
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
		now := s.Now()
		rec.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		wait, limited, remaining := s.rateLimited()
		if limited {
			s.throttle(rec, wait, s.cfg.throttleHeaders)
			return
		}
		if remaining >= 0 {
			s.rateHeaders(rec.Header(), now, remaining, time.Second)
		}
		if s.applyFault(rec, r, route, h) {
			return
		}
		h(rec, r)
	})
}

// rateLimited takes one token from the global bucket, reporting how long
// until the next one when none is left, or else how many remain (-1 when
// no limit is set).
func (s *Server) rateLimited() (wait time.Duration, limited bool, remaining int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limiter == nil {
		return 0, false, -1
	}
	now := s.nowLocked()
	if s.limiter.AllowN(now, 1) {
		return 0, false, int(s.limiter.TokensAt(now))
	}
	r := s.limiter.ReserveN(now, 1)
	wait = r.DelayFrom(now)
	r.CancelAt(now)
	return max(wait, time.Second/time.Duration(max(1, int(s.limit)))), true, 0
}

// rateHeaders writes X-Ratelimit-* as go-ztcentral recorded Central
// sending them: the limit, what is left, and the reset as an HTTP date
// written with "UTC".
func (s *Server) rateHeaders(h http.Header, now time.Time, remaining int, reset time.Duration) {
	limit := s.RateLimit()
	if limit == 0 {
		limit = 100
	}
	h.Set("X-Ratelimit-Limit", strconv.Itoa(int(limit)))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Reset", now.Add(reset).UTC().Format(zeroTierDate))
}

// takeFault returns the fault for route if it hits this request, counting
// it against Times.
func (s *Server) takeFault(route string, r *http.Request) (Fault, bool) {
	s.mu.Lock()
	key, f, ok := s.faultLocked(route)
	s.mu.Unlock()
	// The body is read without the lock: a slow client must not hold up
	// every other request.
	if !ok || (f.Match != "" && !bodyContains(r, f.Match)) {
		return Fault{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Read again: another request may have used it up meanwhile.
	if key, f, ok = s.faultLocked(route); !ok {
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

func (s *Server) faultLocked(route string) (string, Fault, bool) {
	key := route
	f, ok := s.faults[key]
	if !ok && route != RouteUnhandled {
		key = RouteAll
		f, ok = s.faults[key]
	}
	return key, f, ok
}

// applyFault plays f's effects in order and reports whether it answered.
// With f.After the handler h runs first and its answer is discarded.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, route string, h http.HandlerFunc) bool {
	f, ok := s.takeFault(route, r)
	if !ok {
		return false
	}
	if f.After {
		h(&discardWriter{header: http.Header{}}, r)
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
		style := f.ThrottleHeaders
		if style == "" {
			style = s.cfg.throttleHeaders
		}
		s.throttle(w, time.Duration(f.Throttle), style)
		return true
	}
	if st := f.errorStatus(); st != 0 {
		if f.Body != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(st)
			_, _ = io.WriteString(w, f.Body)
			return true
		}
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
		s.rateHeaders(h, now, 0, wait)
	}
	writeMessage(w, http.StatusTooManyRequests, "rate limit exceeded")
}

// bodyContains reports whether r's body holds sub, leaving the body for
// the handler to read. Reading is bounded.
func bodyContains(r *http.Request, sub string) bool {
	if r.Body == nil {
		return false
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	r.Body = io.NopCloser(bytes.NewReader(b))
	return bytes.Contains(b, []byte(sub))
}

// discardWriter takes a handler's answer when a fault replaces it.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
