package emulator

import (
	"net/http"
	"time"
)

// New Central response shapes (field names from the v2 OpenAPI schemas).
type (
	orgItem struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	apiKeyResponse struct {
		ID               string     `json:"id"`
		ServiceAccountID string     `json:"serviceAccountId"`
		Description      string     `json:"description"`
		CreationTime     time.Time  `json:"creationTime"`
		LastModified     time.Time  `json:"lastModified"`
		Expires          time.Time  `json:"expires"`
		LastUsed         *time.Time `json:"lastUsed,omitempty"`
	}
	// newAPIKeyResponse is a key as created: the stored fields (a new key
	// has no lastUsed, so that field is omitted) plus the secret, shown
	// only here.
	newAPIKeyResponse struct {
		apiKeyResponse
		Key string `json:"key"`
	}
	serviceAccountResponse struct {
		ID           string           `json:"id"`
		OrgID        string           `json:"orgId"`
		Name         string           `json:"name"`
		Description  string           `json:"description"`
		APIKeys      []apiKeyResponse `json:"apiKeys"`
		CreationTime time.Time        `json:"creationTime"`
		LastModified time.Time        `json:"lastModified"`
	}
)

func keyResponse(k *apiKey) apiKeyResponse {
	out := apiKeyResponse{
		ID: k.id, ServiceAccountID: k.accountID, Description: k.description,
		CreationTime: k.created.UTC(), LastModified: k.modified.UTC(), Expires: k.expires.UTC(),
	}
	if !k.lastUsed.IsZero() {
		lu := k.lastUsed.UTC()
		out.LastUsed = &lu
	}
	return out
}

func (s *Server) v2ListOrgs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.v2AccessLocked(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": []orgItem{{ID: s.cfg.orgID, Name: s.cfg.orgName}}})
}

func (s *Server) v2GetServiceAccount(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sa, _, ok := s.v2AccountLocked(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.accountResponseLocked(sa))
}

func (s *Server) v2CreateKey(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sa, now, ok := s.v2AccountLocked(w, r)
	if !ok {
		return
	}
	var req struct {
		Expires     *string `json:"expires"`
		Description string  `json:"description"`
	}
	if err := readJSON(r, &req); err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	if req.Expires == nil {
		writeBadRequest(w, "expires is required")
		return
	}
	expires, err := time.Parse(time.RFC3339, *req.Expires)
	if err != nil {
		writeBadRequest(w, "expires must be an RFC 3339 date-time")
		return
	}
	if !expires.After(now) {
		writeBadRequest(w, "expires must be in the future")
		return
	}
	id, err1 := randomHex(s.cfg.rand, 8)
	secret, err2 := randomAlnum(s.cfg.rand, 48)
	if err1 != nil || err2 != nil {
		writeMessage(w, http.StatusInternalServerError, "emulator: no randomness")
		return
	}
	k := &apiKey{
		id: id, accountID: sa.id, description: req.Description, hash: hashSecret(secret),
		expires: expires, created: now, modified: now,
	}
	s.st.addKey(k)
	writeJSON(w, http.StatusOK, newAPIKeyResponse{apiKeyResponse: keyResponse(k), Key: secret})
}

func (s *Server) v2GetKey(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, ok := s.v2KeyLocked(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, keyResponse(k))
}

func (s *Server) v2DeleteKey(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, now, ok := s.v2KeyLocked(w, r)
	if !ok {
		return
	}
	s.st.deleteKey(k, now)
	writeMessage(w, http.StatusOK, "API key deleted")
}
