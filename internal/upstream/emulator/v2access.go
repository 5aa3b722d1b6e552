package emulator

import (
	"net/http"
	"time"
)

// The v2 helpers below answer the error themselves, so a handler that gets
// ok=false just returns. Each reads the clock once, so authentication and
// the handler's own work agree on what has expired.

// v2AccessLocked authenticates r and returns the time to act at.
func (s *Server) v2AccessLocked(w http.ResponseWriter, r *http.Request) (time.Time, bool) {
	now := s.nowLocked()
	if _, ok := s.authV2Locked(r, now); !ok {
		unauthorized(w)
		return time.Time{}, false
	}
	return now, true
}

// v2AccountLocked authenticates r and resolves the {id} service account.
func (s *Server) v2AccountLocked(w http.ResponseWriter, r *http.Request) (*serviceAccount, time.Time, bool) {
	now, ok := s.v2AccessLocked(w, r)
	if !ok {
		return nil, now, false
	}
	sa, ok := s.st.accounts[r.PathValue("id")]
	if !ok {
		writeMessage(w, s.cfg.deleteMissingStatus, "service account not found")
		return nil, now, false
	}
	return sa, now, true
}

// v2KeyLocked authenticates r and resolves the {id} key as the API would
// see it: a removed key is as missing as one that never existed.
func (s *Server) v2KeyLocked(w http.ResponseWriter, r *http.Request) (*apiKey, time.Time, bool) {
	now, ok := s.v2AccessLocked(w, r)
	if !ok {
		return nil, now, false
	}
	k, ok := s.st.keys[r.PathValue("id")]
	if !ok || !k.present(now, s.cfg.removeExpired) {
		writeMessage(w, s.cfg.deleteMissingStatus, "API key not found")
		return nil, now, false
	}
	return k, now, true
}
