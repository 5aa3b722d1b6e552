package emulator

import (
	"net/http"
	"regexp"
)

// Service accounts of the organisation. Any key may list and create them,
// as a real service account's key can: service accounts "have blanket
// administrator access to the organization", so a lease holder can make
// itself a long-lived identity unless something watches.

// accountIDPattern is a guess at the rules for the client-chosen id,
// which the spec leaves undescribed: conservative enough for a URL path.
var accountIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// v2OrgLocked authenticates r and checks that {id} is the emulated org. A
// valid key naming another org gets 403, as the reference notes expect.
func (s *Server) v2OrgLocked(w http.ResponseWriter, r *http.Request) bool {
	if _, ok := s.v2AccessLocked(w, r); !ok {
		return false
	}
	if r.PathValue("id") != s.cfg.orgID {
		writeMessage(w, http.StatusForbidden, "forbidden")
		return false
	}
	return true
}

func (s *Server) v2ListServiceAccounts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.v2OrgLocked(w, r) {
		return
	}
	now := s.nowLocked()
	items := make([]serviceAccountResponse, 0, len(s.st.accountOrder))
	for _, id := range s.st.accountOrder {
		items = append(items, s.accountResponseLocked(s.st.accounts[id], now))
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
	case !accountIDPattern.MatchString(req.ID):
		writeBadRequest(w, "id has characters that are not allowed")
		return
	}
	if _, dup := s.st.accounts[req.ID]; dup {
		writeBadRequest(w, "a service account with this id exists")
		return
	}
	now := s.nowLocked()
	sa := &serviceAccount{id: req.ID, name: req.Name, description: req.Description, created: now}
	s.st.accounts[sa.id] = sa
	s.st.accountOrder = append(s.st.accountOrder, sa.id)
	writeJSON(w, http.StatusOK, s.accountResponseLocked(sa, now))
}
