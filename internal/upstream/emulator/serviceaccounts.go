package emulator

import (
	"net/http"
)

// What any API key may do, a lease key included, since New Central service
// accounts are org-wide administrators: create service accounts and list
// them, and (in v2.go) create keys on any account. The broker's proxy must
// never let a lease do either.

func (s *Server) v2OrgLocked(w http.ResponseWriter, r *http.Request) bool {
	if _, ok := s.v2AccessLocked(w, r); !ok {
		return false
	}
	if r.PathValue("id") != s.cfg.orgID {
		writeMessage(w, http.StatusForbidden, "access denied")
		return false
	}
	return true
}

func (s *Server) accountResponseLocked(sa *serviceAccount) serviceAccountResponse {
	now := s.nowLocked()
	keys := s.st.liveKeys(sa, now, s.cfg.removeExpired)
	resp := serviceAccountResponse{
		ID: sa.id, OrgID: s.cfg.orgID, Name: sa.name, Description: sa.description,
		APIKeys: make([]apiKeyResponse, 0, len(keys)), CreationTime: sa.created.UTC(), LastModified: sa.created.UTC(),
	}
	if resp.Name == "" {
		resp.Name = sa.id
	}
	for _, k := range keys {
		resp.APIKeys = append(resp.APIKeys, keyResponse(k))
	}
	return resp
}

func (s *Server) v2ListServiceAccounts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.v2OrgLocked(w, r) {
		return
	}
	items := make([]serviceAccountResponse, 0, len(s.st.accountOrder))
	for _, id := range s.st.accountOrder {
		items = append(items, s.accountResponseLocked(s.st.accounts[id]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) v2CreateServiceAccount(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.v2OrgLocked(w, r) {
		return
	}
	var req struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := readJSON(r, &req); err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	switch {
	case req.ID == "" || req.Name == "":
		writeBadRequest(w, "id and name are required")
		return
	case s.st.accounts[req.ID] != nil:
		writeBadRequest(w, "a service account with this id exists")
		return
	}
	sa := &serviceAccount{id: req.ID, name: req.Name, description: req.Description, created: s.nowLocked()}
	s.st.accounts[sa.id] = sa
	s.st.accountOrder = append(s.st.accountOrder, sa.id)
	writeJSON(w, http.StatusOK, s.accountResponseLocked(sa))
}
