package emulator

import (
	"net/http"
)

// Legacy response shapes (from the v1 OpenAPI schemas).
type (
	userResponse struct {
		ID                string          `json:"id"`
		OrgID             string          `json:"orgId"`
		DisplayName       string          `json:"displayName"`
		Email             string          `json:"email"`
		GlobalPermissions map[string]bool `json:"globalPermissions"`
		Tokens            []string        `json:"tokens"`
	}
	statusResponse struct {
		ID           string          `json:"id"`
		Type         string          `json:"type"`
		Clock        int64           `json:"clock"`
		Version      string          `json:"version"`
		APIVersion   string          `json:"apiVersion"`
		Uptime       int64           `json:"uptime"`
		User         *userResponse   `json:"user"`
		ReadOnlyMode bool            `json:"readOnlyMode"`
		LoginMethods map[string]bool `json:"loginMethods"`
	}
)

func (s *Server) userResponseLocked(u *legacyUser) *userResponse {
	return &userResponse{
		ID: u.id, OrgID: s.cfg.orgID, DisplayName: u.id, Email: u.id + "@emulator.invalid",
		GlobalPermissions: map[string]bool{"a": true, "d": true, "m": true, "r": true},
		Tokens:            append([]string{}, u.order...),
	}
}

// v1Status answers 200 whatever the credential; the user is null unless
// it authenticated, which is how Central tells a caller its token is bad.
func (s *Server) v1Status(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	resp := statusResponse{
		ID: "central_status", Type: "CentralStatus", Clock: now.UnixMilli(),
		Version: "emulator", APIVersion: "4",
		LoginMethods: map[string]bool{"local": true},
	}
	if p, ok := s.authV1Locked(r); ok {
		if u, ok := s.st.users[p.legacyUser]; ok {
			resp.User = s.userResponseLocked(u)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// legacyUserLocked authenticates r and resolves the {id} user, answering
// the error itself when either fails.
func (s *Server) legacyUserLocked(w http.ResponseWriter, r *http.Request) (*legacyUser, bool) {
	p, ok := s.authV1Locked(r)
	if !ok {
		unauthorized(w)
		return nil, false
	}
	id := r.PathValue("id")
	if !p.mayActAs(id) {
		writeMessage(w, http.StatusForbidden, "access denied")
		return nil, false
	}
	u, ok := s.st.users[id]
	if !ok {
		writeMessage(w, http.StatusNotFound, "user not found")
		return nil, false
	}
	return u, true
}

func (s *Server) v1GetUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.legacyUserLocked(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.userResponseLocked(u))
}

// minLegacyTokenLength is Central's documented minimum for a user token.
const minLegacyTokenLength = 32

func (s *Server) v1CreateToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.legacyUserLocked(w, r)
	if !ok {
		return
	}
	var req struct {
		TokenName string `json:"tokenName"`
		Token     string `json:"token"`
	}
	if err := readJSON(r, &req); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	switch {
	case req.TokenName == "":
		writeMessage(w, http.StatusBadRequest, "tokenName is required")
		return
	case len(req.Token) < minLegacyTokenLength:
		writeMessage(w, http.StatusBadRequest, "token must be at least 32 characters")
		return
	}
	if _, dup := u.tokens[req.TokenName]; dup {
		writeMessage(w, http.StatusBadRequest, "tokenName already in use")
		return
	}
	h := hashSecret(req.Token)
	if _, dup := s.st.legacyByHash[h]; dup {
		writeMessage(w, http.StatusBadRequest, "token value already in use")
		return
	}
	s.st.addLegacyToken(&legacyToken{userID: u.id, name: req.TokenName, hash: h, created: s.nowLocked()})
	writeJSON(w, http.StatusOK, map[string]string{"tokenName": req.TokenName})
}

func (s *Server) v1DeleteToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.legacyUserLocked(w, r)
	if !ok {
		return
	}
	t, ok := u.tokens[r.PathValue("name")]
	if !ok {
		writeMessage(w, http.StatusNotFound, "token not found")
		return
	}
	s.st.deleteLegacyToken(t, s.nowLocked())
	w.WriteHeader(http.StatusOK)
}

func (s *Server) v1RandomToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authV1Locked(r); !ok {
		unauthorized(w)
		return
	}
	tok, err1 := randomAlnum(s.cfg.rand, minLegacyTokenLength)
	hx, err2 := randomHex(s.cfg.rand, 32)
	if err1 != nil || err2 != nil {
		writeMessage(w, http.StatusInternalServerError, "emulator: no randomness")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"clock": s.nowLocked().UnixMilli(), "hex": hx, "token": tok,
	})
}
