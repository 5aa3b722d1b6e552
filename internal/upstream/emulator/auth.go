package emulator

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// principal is who a request authenticated as. The admin token is not a
// principal of its own: it is seeded as an ordinary key and token, and is
// exactly as powerful, and as mortal, as they are.
type principal struct {
	// key is set for a New Central API key.
	key *apiKey
	// legacyUser is set for a Legacy user token.
	legacyUser string
}

// credential splits the Authorization header; the scheme is lowercased
// because Central matches it case-insensitively.
func credential(r *http.Request) (scheme, secret string) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok {
		return "", ""
	}
	return strings.ToLower(scheme), strings.TrimSpace(secret)
}

func (s *Server) isAdmin(secret string) bool {
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(s.adminHash)) == 1
}

// authV2 authenticates a New Central request: Bearer with a live,
// unexpired API key, whose lastUsed it stamps (unless configured not to).
// Any key may act on the whole organisation, as a service account's can.
// Called with mu held.
func (s *Server) authV2Locked(r *http.Request, now time.Time) (principal, bool) {
	scheme, secret := credential(r)
	if scheme != "bearer" || secret == "" {
		return principal{}, false
	}
	k, ok := s.st.keyByHash[hashSecret(secret)]
	if !ok || k.deleted || k.expired(now) {
		return principal{}, false
	}
	if !s.cfg.noLastUsed {
		k.lastUsed = now
	}
	return principal{key: k}, true
}

// authV1 authenticates a Legacy request: scheme "token" or "bearer" with a
// live user token. Called with mu held.
func (s *Server) authV1Locked(r *http.Request) (principal, bool) {
	scheme, secret := credential(r)
	if (scheme != "token" && scheme != "bearer") || secret == "" {
		return principal{}, false
	}
	t, ok := s.st.legacyByHash[hashSecret(secret)]
	if !ok || t.deleted {
		return principal{}, false
	}
	return principal{legacyUser: t.userID}, true
}

// mayActAs reports whether p may manage Legacy user id: a user token
// manages its own user only.
func (p principal) mayActAs(id string) bool { return p.legacyUser == id }

func unauthorized(w http.ResponseWriter) {
	writeMessage(w, http.StatusUnauthorized, "unauthorized")
}
