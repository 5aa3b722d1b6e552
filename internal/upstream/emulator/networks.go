package emulator

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Defaults for the network model.
const (
	// DefaultNetworkGroup is the New Central network group every network
	// belongs to; a new organisation starts with one.
	DefaultNetworkGroup     = "ng-emulator0001"
	defaultNetworkGroupName = "Default"
	// controllerID starts every generated network id, as Central's own
	// controller address starts the ids it makes.
	controllerID = "8056c2e21c"
)

// NetworkSeed is a network present from the start (and after a reset).
type NetworkSeed struct {
	ID      string
	Name    string
	Members []MemberSeed
}

// MemberSeed is a member present from the start.
type MemberSeed struct {
	ID         string
	Name       string
	Authorized bool
}

// WithNetworks seeds networks and their members.
func WithNetworks(seeds ...NetworkSeed) Option {
	return func(c *config) { c.networks = append(c.networks, seeds...) }
}

// ParseNetworkSeed reads the command-line form of a network:
// "ID[:NAME]" followed by any number of ",MEMBER[+]" (a + authorises it),
// e.g. "8056c2e21c000001:ci,deadbeef00+,deadbeef01".
func ParseNetworkSeed(spec string) (NetworkSeed, error) {
	parts := strings.Split(spec, ",")
	id, name, _ := strings.Cut(parts[0], ":")
	seed := NetworkSeed{ID: id, Name: name}
	for _, p := range parts[1:] {
		m := MemberSeed{ID: strings.TrimSuffix(p, "+"), Authorized: strings.HasSuffix(p, "+")}
		seed.Members = append(seed.Members, m)
	}
	return seed, seed.validate()
}

func (n NetworkSeed) validate() error {
	if !isHex(n.ID, 16) {
		return fmt.Errorf("emulator: network id %q must be 16 lowercase hex digits", n.ID)
	}
	for _, m := range n.Members {
		if !isHex(m.ID, 10) {
			return fmt.Errorf("emulator: member id %q must be 10 lowercase hex digits", m.ID)
		}
	}
	return nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// network is one network, seen by both APIs: New Central manages the
// networks Legacy Central made (their kind is "v1").
type network struct {
	id, name, description, groupID string
	created, modified              time.Time
	private, enableBroadcast       bool
	mtu, multicastLimit            int
	rulesSource                    string
	routes                         []route
	pools                          []ipRange
	v4ZT, v6ZT, v6Plane, v6RFC4193 bool
	dnsDomain                      string
	dnsServers                     []string

	members map[string]*member
	order   []string
}

type route struct {
	Target string  `json:"target"`
	Via    *string `json:"via"`
}

type ipRange struct {
	Start string `json:"ipRangeStart"`
	End   string `json:"ipRangeEnd"`
}

// member is one node's membership of a network.
type member struct {
	networkID, nodeID                      string
	name, description                      string
	authorized, rejected                   bool
	hidden, ssoExempt                      bool
	activeBridge, noAutoAssignIPs          bool
	ipAssignments                          []string
	capabilities                           []int
	tags                                   [][]any
	created, modified                      time.Time
	lastAuthorized, lastDeauthorized       time.Time
	revision                               int
	identity                               string
	clientVersion, physicalAddress, osName string
}

func newNetwork(id, name string, now time.Time) *network {
	return &network{
		id: id, name: name, groupID: DefaultNetworkGroup, created: now, modified: now,
		private: true, enableBroadcast: true, mtu: 2800, multicastLimit: 32, rulesSource: "accept;",
		v4ZT: true, members: map[string]*member{},
	}
}

func newMember(networkID, nodeID string, now time.Time) *member {
	return &member{
		networkID: networkID, nodeID: nodeID, created: now, modified: now,
		identity: nodeID + ":0:" + strings.Repeat("ab", 32), clientVersion: "1.14.2",
		physicalAddress: "203.0.113.7", osName: "linux",
	}
}

// status is the v2 view of a member's authorisation.
func (m *member) status() string {
	switch {
	case m.rejected:
		return "rejected"
	case m.authorized:
		return "authorized"
	}
	return "not_authorized"
}

// setAuthorized changes authorisation and its timestamps, as Central does.
func (m *member) setAuthorized(ok bool, now time.Time) {
	if ok && !m.authorized {
		m.lastAuthorized = now
	}
	if !ok && m.authorized {
		m.lastDeauthorized = now
	}
	m.authorized = ok
	if ok {
		m.rejected = false
	}
}

func (m *member) touch(now time.Time) {
	m.modified = now
	m.revision++
}

func (s *state) seedNetworks(seeds []NetworkSeed, now time.Time) {
	for _, sd := range seeds {
		if _, dup := s.networks[sd.ID]; dup {
			continue
		}
		n := newNetwork(sd.ID, sd.Name, now)
		for _, ms := range sd.Members {
			m := newMember(sd.ID, ms.ID, now)
			m.name = ms.Name
			m.setAuthorized(ms.Authorized, now)
			n.addMember(m)
		}
		s.addNetwork(n)
	}
}

func (s *state) addNetwork(n *network) {
	s.networks[n.id] = n
	s.networkOrder = append(s.networkOrder, n.id)
}

func (s *state) deleteNetwork(id string) {
	delete(s.networks, id)
	s.networkOrder = slices.DeleteFunc(s.networkOrder, func(x string) bool { return x == id })
}

func (n *network) addMember(m *member) {
	n.members[m.nodeID] = m
	n.order = append(n.order, m.nodeID)
}

func (n *network) deleteMember(id string) {
	delete(n.members, id)
	n.order = slices.DeleteFunc(n.order, func(x string) bool { return x == id })
}

func (n *network) memberList() []*member {
	out := make([]*member, 0, len(n.order))
	for _, id := range n.order {
		out = append(out, n.members[id])
	}
	return out
}

func (s *state) networkList() []*network {
	out := make([]*network, 0, len(s.networkOrder))
	for _, id := range s.networkOrder {
		out = append(out, s.networks[id])
	}
	return out
}

// newNetworkID makes an id under the emulator's controller.
func (s *Server) newNetworkIDLocked() (string, error) {
	for range 100 {
		suffix, err := randomHex(s.cfg.rand, 3)
		if err != nil {
			return "", err
		}
		if id := controllerID + suffix; s.st.networks[id] == nil {
			return id, nil
		}
	}
	return "", fmt.Errorf("emulator: no free network id")
}

// NetworkTruth is one network as tests see it.
type NetworkTruth struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Private     bool          `json:"private"`
	Modified    time.Time     `json:"modified"`
	Members     []MemberTruth `json:"members"`
}

// MemberTruth is one member as tests see it.
type MemberTruth struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	Authorized    bool     `json:"authorized"`
	Status        string   `json:"status"`
	ActiveBridge  bool     `json:"activeBridge"`
	IPAssignments []string `json:"ipAssignments"`
	Revision      int      `json:"revision"`
}

// Networks returns every network and its members, in creation order.
func (s *Server) Networks() []NetworkTruth {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []NetworkTruth{}
	for _, n := range s.st.networkList() {
		nt := NetworkTruth{ID: n.id, Name: n.name, Description: n.description, Private: n.private, Modified: n.modified.UTC(), Members: []MemberTruth{}}
		for _, m := range n.memberList() {
			nt.Members = append(nt.Members, MemberTruth{
				ID: m.nodeID, Name: m.name, Description: m.description, Authorized: m.authorized, Status: m.status(),
				ActiveBridge: m.activeBridge, IPAssignments: slices.Clone(m.ipAssignments), Revision: m.revision,
			})
		}
		out = append(out, nt)
	}
	return out
}

// Network returns one network's ground truth.
func (s *Server) Network(id string) (NetworkTruth, bool) {
	for _, n := range s.Networks() {
		if n.ID == id {
			return n, true
		}
	}
	return NetworkTruth{}, false
}
