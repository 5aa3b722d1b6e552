package emulator

import (
	"net/http"
	"time"
)

type (
	v2NetworkUpdate struct {
		Name        *string          `json:"name"`
		Description *string          `json:"description"`
		Config      *v2NetworkConfig `json:"config"`
	}
	v2NetworkConfig struct {
		Private             *bool      `json:"private"`
		EnableBroadcast     *bool      `json:"enableBroadcast"`
		MTU                 *int       `json:"mtu"`
		MulticastLimit      *int       `json:"multicastLimit"`
		Routes              *[]route   `json:"routes"`
		DNS                 *dnsEdit   `json:"dns"`
		V4IPAssignmentPools *[]ipRange `json:"v4IpAssignmentPools"`
		V4AssignmentMode    *struct {
			ZT *bool `json:"zt"`
		} `json:"v4AssignmentMode"`
		V6AssignmentMode *v6Mode `json:"v6AssignmentMode"`
	}
	v2MemberUpdate struct {
		Name            *string   `json:"name"`
		Description     *string   `json:"description"`
		ActiveBridge    *bool     `json:"activeBridge"`
		NoAutoAssignIPs *bool     `json:"noAutoAssignIps"`
		IPv4Assignments *[]string `json:"ipv4Assignments"`
		IPv6Assignments *[]string `json:"ipv6Assignments"`
	}
	v2MemberAdd struct {
		DeviceID string `json:"deviceId"`
		v2MemberUpdate
	}
)

func (u *v2NetworkUpdate) apply(n *network, now time.Time) {
	set(&n.name, u.Name)
	set(&n.description, u.Description)
	if c := u.Config; c != nil {
		set(&n.private, c.Private)
		set(&n.enableBroadcast, c.EnableBroadcast)
		set(&n.mtu, c.MTU)
		set(&n.multicastLimit, c.MulticastLimit)
		set(&n.routes, c.Routes)
		set(&n.pools, c.V4IPAssignmentPools)
		if c.V4AssignmentMode != nil {
			set(&n.v4ZT, c.V4AssignmentMode.ZT)
		}
		c.V6AssignmentMode.apply(n)
		c.DNS.apply(n)
	}
	n.modified = now
}

func (u *v2MemberUpdate) apply(m *member, now time.Time) {
	set(&m.name, u.Name)
	set(&m.description, u.Description)
	set(&m.activeBridge, u.ActiveBridge)
	set(&m.noAutoAssignIPs, u.NoAutoAssignIPs)
	if u.IPv4Assignments != nil || u.IPv6Assignments != nil {
		cur := v2MemberOf(m)
		v4, v6 := cur.IPv4Assignments, cur.IPv6Assignments
		set(&v4, u.IPv4Assignments)
		set(&v6, u.IPv6Assignments)
		m.ipAssignments = append(append([]string{}, v4...), v6...)
	}
	m.touch(now)
}

func (s *Server) v2NetworkOfLocked(w http.ResponseWriter, r *http.Request) (*network, time.Time, bool) {
	now, ok := s.v2AccessLocked(w, r)
	if !ok {
		return nil, now, false
	}
	n := s.st.networks[r.PathValue("id")]
	if n == nil {
		writeMessage(w, s.cfg.deleteMissingStatus, "network not found")
		return nil, now, false
	}
	return n, now, true
}

func (s *Server) v2MemberOfLocked(w http.ResponseWriter, r *http.Request) (*member, time.Time, bool) {
	n, now, ok := s.v2NetworkOfLocked(w, r)
	if !ok {
		return nil, now, false
	}
	m := n.members[r.PathValue("device")]
	if m == nil {
		writeMessage(w, s.cfg.deleteMissingStatus, "member not found")
		return nil, now, false
	}
	return m, now, true
}

func (s *Server) v2ListNetworks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.v2AccessLocked(w, r); !ok {
		return
	}
	items := []v2NetworkSummaryJSON{}
	authorized, unauthorized := 0, 0
	for _, n := range s.st.networkList() {
		sum := v2SummaryOf(n)
		authorized += sum.Stats["authorizedDevices"]
		unauthorized += sum.Stats["notAuthorizedDevices"]
		items = append(items, sum)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"items": items,
		"stats": map[string]int{"authorizedDevices": authorized, "unauthorizedMemberships": unauthorized},
	})
}

func (s *Server) v2CreateNetwork(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, ok := s.v2AccessLocked(w, r)
	if !ok {
		return
	}
	if r.PathValue("id") != DefaultNetworkGroup {
		writeMessage(w, s.cfg.deleteMissingStatus, "network group not found")
		return
	}
	var u v2NetworkUpdate
	if err := readJSON(r, &u); err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	if u.Name == nil || *u.Name == "" {
		writeBadRequest(w, "name is required")
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
	writeJSON(w, http.StatusOK, v2NetworkOf(n))
}

func (s *Server) v2GetNetwork(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, _, ok := s.v2NetworkOfLocked(w, r); ok {
		writeJSON(w, http.StatusOK, v2NetworkOf(n))
	}
}

func (s *Server) v2UpdateNetwork(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, now, ok := s.v2NetworkOfLocked(w, r)
	if !ok {
		return
	}
	var u v2NetworkUpdate
	if err := readJSON(r, &u); err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	u.apply(n, now)
	writeJSON(w, http.StatusOK, v2NetworkOf(n))
}

func (s *Server) v2DeleteNetwork(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, _, ok := s.v2NetworkOfLocked(w, r); ok {
		s.st.deleteNetwork(n.id)
		writeMessage(w, http.StatusOK, "network deleted")
	}
}

func (s *Server) v2ListMembers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _, ok := s.v2NetworkOfLocked(w, r)
	if !ok {
		return
	}
	out := []v2MemberJSON{}
	for _, m := range n.memberList() {
		out = append(out, v2MemberOf(m))
	}
	writeJSON(w, http.StatusOK, out)
}

// v2AddMembers adds devices, unauthorised until someone authorises them;
// a device already there is updated instead.
func (s *Server) v2AddMembers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, now, ok := s.v2NetworkOfLocked(w, r)
	if !ok {
		return
	}
	var adds []v2MemberAdd
	if err := readJSON(r, &adds); err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	for _, a := range adds {
		if !isHex(a.DeviceID, 10) {
			writeBadRequest(w, "deviceId must be a 10-digit device id")
			return
		}
	}
	out := make([]v2MemberJSON, 0, len(adds))
	for _, a := range adds {
		m := n.members[a.DeviceID]
		if m == nil {
			m = newMember(n.id, a.DeviceID, now)
			n.addMember(m)
		}
		a.apply(m, now)
		out = append(out, v2MemberOf(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) v2DeleteMembers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _, ok := s.v2NetworkOfLocked(w, r)
	if !ok {
		return
	}
	var dels []struct {
		DeviceID string `json:"deviceId"`
	}
	if err := readJSON(r, &dels); err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	for _, d := range dels {
		n.deleteMember(d.DeviceID)
	}
	writeMessage(w, http.StatusOK, "members deleted")
}

// Member actions, in bulk and for one device.
const (
	actionAuthorize   = "authorize"
	actionDeauthorize = "de-authorize"
	actionReject      = "reject"
)

func (m *member) act(action string, now time.Time) {
	switch action {
	case actionAuthorize:
		m.setAuthorized(true, now)
	case actionDeauthorize:
		m.setAuthorized(false, now)
	case actionReject:
		m.setAuthorized(false, now)
		m.rejected = true
	}
	m.touch(now)
}

func (s *Server) v2BulkAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		n, now, ok := s.v2NetworkOfLocked(w, r)
		if !ok {
			return
		}
		var ids []string
		if err := readJSON(r, &ids); err != nil {
			writeBadRequest(w, err.Error())
			return
		}
		for _, id := range ids {
			if n.members[id] == nil {
				writeBadRequest(w, "unknown device id")
				return
			}
		}
		for _, id := range ids {
			n.members[id].act(action, now)
		}
		writeMessage(w, http.StatusOK, "members updated")
	}
}

func (s *Server) v2MemberAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		m, now, ok := s.v2MemberOfLocked(w, r)
		if !ok {
			return
		}
		m.act(action, now)
		writeJSON(w, http.StatusOK, v2MemberOf(m))
	}
}

func (s *Server) v2GetMember(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, _, ok := s.v2MemberOfLocked(w, r); ok {
		writeJSON(w, http.StatusOK, v2MemberOf(m))
	}
}

func (s *Server) v2UpdateMember(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, now, ok := s.v2MemberOfLocked(w, r)
	if !ok {
		return
	}
	var u v2MemberUpdate
	if err := readJSON(r, &u); err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	u.apply(m, now)
	writeJSON(w, http.StatusOK, v2MemberOf(m))
}
