package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// Partial updates: a pointer left nil (absent or JSON null) leaves the
// field alone, as Central treats the nulls go-ztcentral sends; unknown and
// read-only fields are ignored; a wrong type is refused.
type (
	v1NetworkUpdate struct {
		Description *string          `json:"description"`
		RulesSource *string          `json:"rulesSource"`
		Config      *v1NetworkConfig `json:"config"`
	}
	v1NetworkConfig struct {
		Name              *string    `json:"name"`
		Private           *bool      `json:"private"`
		EnableBroadcast   *bool      `json:"enableBroadcast"`
		MTU               *int       `json:"mtu"`
		MulticastLimit    *int       `json:"multicastLimit"`
		Routes            *[]route   `json:"routes"`
		IPAssignmentPools *[]ipRange `json:"ipAssignmentPools"`
		V4AssignMode      *struct {
			ZT *bool `json:"zt"`
		} `json:"v4AssignMode"`
		V6AssignMode *v6Mode  `json:"v6AssignMode"`
		DNS          *dnsEdit `json:"dns"`
	}
	v6Mode struct {
		ZT       *bool `json:"zt"`
		SixPlane *bool `json:"6plane"`
		RFC4193  *bool `json:"rfc4193"`
	}
	dnsEdit struct {
		Domain  *string   `json:"domain"`
		Servers *[]string `json:"servers"`
	}
	v1MemberUpdate struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
		Hidden      *bool   `json:"hidden"`
		Config      *struct {
			Authorized      *bool     `json:"authorized"`
			ActiveBridge    *bool     `json:"activeBridge"`
			NoAutoAssignIPs *bool     `json:"noAutoAssignIps"`
			SSOExempt       *bool     `json:"ssoExempt"`
			IPAssignments   *[]string `json:"ipAssignments"`
			Capabilities    *[]int    `json:"capabilities"`
			Tags            *[][]any  `json:"tags"`
		} `json:"config"`
	}
)

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (c *v1NetworkConfig) apply(n *network) {
	if c == nil {
		return
	}
	set(&n.name, c.Name)
	set(&n.private, c.Private)
	set(&n.enableBroadcast, c.EnableBroadcast)
	set(&n.mtu, c.MTU)
	set(&n.multicastLimit, c.MulticastLimit)
	set(&n.routes, c.Routes)
	set(&n.pools, c.IPAssignmentPools)
	if c.V4AssignMode != nil {
		set(&n.v4ZT, c.V4AssignMode.ZT)
	}
	c.V6AssignMode.apply(n)
	c.DNS.apply(n)
}

func (m *v6Mode) apply(n *network) {
	if m != nil {
		set(&n.v6ZT, m.ZT)
		set(&n.v6Plane, m.SixPlane)
		set(&n.v6RFC4193, m.RFC4193)
	}
}

func (d *dnsEdit) apply(n *network) {
	if d != nil {
		set(&n.dnsDomain, d.Domain)
		set(&n.dnsServers, d.Servers)
	}
}

func (u *v1MemberUpdate) apply(m *member, now time.Time) {
	set(&m.name, u.Name)
	set(&m.description, u.Description)
	set(&m.hidden, u.Hidden)
	if c := u.Config; c != nil {
		if c.Authorized != nil {
			m.setAuthorized(*c.Authorized, now)
		}
		set(&m.activeBridge, c.ActiveBridge)
		set(&m.noAutoAssignIPs, c.NoAutoAssignIPs)
		set(&m.ssoExempt, c.SSOExempt)
		set(&m.ipAssignments, c.IPAssignments)
		set(&m.capabilities, c.Capabilities)
		set(&m.tags, c.Tags)
	}
	m.touch(now)
}

// readOptionalJSON is readJSON where an empty body means {}. Central
// parses the body as JSON whatever the Content-Type says.
func readOptionalJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return errors.New("reading body")
	}
	if len(b) > maxRequestBody {
		return errors.New("body too large")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errors.New("JSON error")
	}
	return nil
}

// v1Access authenticates a Legacy request and returns the time to act at.
func (s *Server) v1AccessLocked(w http.ResponseWriter, r *http.Request) (time.Time, bool) {
	if _, ok := s.authV1Locked(r); !ok {
		unauthorized(w)
		return time.Time{}, false
	}
	return s.nowLocked(), true
}

func (s *Server) v1NetworkOfLocked(w http.ResponseWriter, r *http.Request) (*network, time.Time, bool) {
	now, ok := s.v1AccessLocked(w, r)
	if !ok {
		return nil, now, false
	}
	n := s.st.networks[r.PathValue("id")]
	if n == nil {
		writeMessage(w, http.StatusNotFound, "network not found")
		return nil, now, false
	}
	return n, now, true
}

func (s *Server) v1ListNetworks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, ok := s.v1AccessLocked(w, r)
	if !ok {
		return
	}
	out := []v1NetworkJSON{}
	for _, n := range s.st.networkList() {
		out = append(out, s.v1NetworkLocked(n, now))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) v1CreateNetwork(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, ok := s.v1AccessLocked(w, r)
	if !ok {
		return
	}
	var u v1NetworkUpdate
	if err := readOptionalJSON(r, &u); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"type": "internal", "message": err.Error()})
		return
	}
	id, err := s.newNetworkIDLocked()
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, err.Error())
		return
	}
	n := newNetwork(id, "", now)
	u.apply(n, now)
	s.st.addNetwork(n)
	writeJSON(w, http.StatusOK, s.v1NetworkLocked(n, now))
}

func (u *v1NetworkUpdate) apply(n *network, now time.Time) {
	set(&n.description, u.Description)
	set(&n.rulesSource, u.RulesSource)
	u.Config.apply(n)
	n.modified = now
}

func (s *Server) v1GetNetwork(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, now, ok := s.v1NetworkOfLocked(w, r); ok {
		writeJSON(w, http.StatusOK, s.v1NetworkLocked(n, now))
	}
}

func (s *Server) v1UpdateNetwork(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, now, ok := s.v1NetworkOfLocked(w, r)
	if !ok {
		return
	}
	var u v1NetworkUpdate
	if err := readOptionalJSON(r, &u); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"type": "internal", "message": err.Error()})
		return
	}
	u.apply(n, now)
	writeJSON(w, http.StatusOK, s.v1NetworkLocked(n, now))
}

func (s *Server) v1DeleteNetwork(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, _, ok := s.v1NetworkOfLocked(w, r); ok {
		s.st.deleteNetwork(n.id)
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) v1ListMembers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, now, ok := s.v1NetworkOfLocked(w, r)
	if !ok {
		return
	}
	out := []v1MemberJSON{}
	for _, m := range n.memberList() {
		out = append(out, v1MemberOf(m, now))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) v1GetMember(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, now, ok := s.v1NetworkOfLocked(w, r)
	if !ok {
		return
	}
	m := n.members[r.PathValue("member")]
	if m == nil {
		writeMessage(w, http.StatusNotFound, "member not found")
		return
	}
	writeJSON(w, http.StatusOK, v1MemberOf(m, now))
}

// v1UpdateMember updates a member, creating it when the node id is new:
// that is how Central pre-authorises a node before it joins.
func (s *Server) v1UpdateMember(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, now, ok := s.v1NetworkOfLocked(w, r)
	if !ok {
		return
	}
	id := r.PathValue("member")
	if !isHex(id, 10) {
		writeMessage(w, http.StatusBadRequest, "invalid member id")
		return
	}
	var u v1MemberUpdate
	if err := readOptionalJSON(r, &u); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"type": "internal", "message": err.Error()})
		return
	}
	m := n.members[id]
	if m == nil {
		m = newMember(n.id, id, now)
		n.addMember(m)
	}
	u.apply(m, now)
	writeJSON(w, http.StatusOK, v1MemberOf(m, now))
}

func (s *Server) v1DeleteMember(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _, ok := s.v1NetworkOfLocked(w, r)
	if !ok {
		return
	}
	if n.members[r.PathValue("member")] == nil {
		writeMessage(w, http.StatusNotFound, "member not found")
		return
	}
	n.deleteMember(r.PathValue("member"))
	w.WriteHeader(http.StatusOK)
}
