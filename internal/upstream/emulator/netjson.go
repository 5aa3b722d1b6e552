package emulator

import (
	"net/netip"
	"slices"
	"time"
)

// The network and member shapes below follow the reference notes on
// Central's v1 OpenAPI document and the v2 client generated from ZeroTier's
// v2 spec: field names, nesting, millisecond clocks for v1 and RFC 3339
// times for v2.

type (
	v1NetworkJSON struct {
		ID                    string                     `json:"id"`
		Type                  string                     `json:"type"`
		Clock                 int64                      `json:"clock"`
		Description           string                     `json:"description"`
		RulesSource           string                     `json:"rulesSource"`
		OwnerID               string                     `json:"ownerId"`
		Permissions           map[string]map[string]bool `json:"permissions"`
		OnlineMemberCount     int                        `json:"onlineMemberCount"`
		AuthorizedMemberCount int                        `json:"authorizedMemberCount"`
		TotalMemberCount      int                        `json:"totalMemberCount"`
		CapabilitiesByName    map[string]any             `json:"capabilitiesByName"`
		TagsByName            map[string]any             `json:"tagsByName"`
		Config                v1NetworkConfigJSON        `json:"config"`
	}
	v1NetworkConfigJSON struct {
		ID                string          `json:"id"`
		Name              string          `json:"name"`
		Private           bool            `json:"private"`
		CreationTime      int64           `json:"creationTime"`
		LastModified      int64           `json:"lastModified"`
		EnableBroadcast   bool            `json:"enableBroadcast"`
		MTU               int             `json:"mtu"`
		MulticastLimit    int             `json:"multicastLimit"`
		Routes            []route         `json:"routes"`
		IPAssignmentPools []ipRange       `json:"ipAssignmentPools"`
		V4AssignMode      map[string]bool `json:"v4AssignMode"`
		V6AssignMode      map[string]bool `json:"v6AssignMode"`
		DNS               dnsJSON         `json:"dns"`
		Rules             []any           `json:"rules"`
		Capabilities      []any           `json:"capabilities"`
		Tags              []any           `json:"tags"`
		SSOConfig         map[string]any  `json:"ssoConfig"`
	}
	dnsJSON struct {
		Domain  string   `json:"domain"`
		Servers []string `json:"servers"`
	}
	v1MemberJSON struct {
		ID                  string             `json:"id"`
		Clock               int64              `json:"clock"`
		NetworkID           string             `json:"networkId"`
		NodeID              string             `json:"nodeId"`
		ControllerID        string             `json:"controllerId"`
		Hidden              bool               `json:"hidden"`
		Name                string             `json:"name"`
		Description         string             `json:"description"`
		LastOnline          int64              `json:"lastOnline"`
		LastSeen            int64              `json:"lastSeen"`
		PhysicalAddress     string             `json:"physicalAddress"`
		ClientVersion       string             `json:"clientVersion"`
		ProtocolVersion     int                `json:"protocolVersion"`
		SupportsRulesEngine bool               `json:"supportsRulesEngine"`
		Config              v1MemberConfigJSON `json:"config"`
	}
	v1MemberConfigJSON struct {
		ID                   string   `json:"id"`
		Authorized           bool     `json:"authorized"`
		ActiveBridge         bool     `json:"activeBridge"`
		NoAutoAssignIPs      bool     `json:"noAutoAssignIps"`
		SSOExempt            bool     `json:"ssoExempt"`
		IPAssignments        []string `json:"ipAssignments"`
		Capabilities         []int    `json:"capabilities"`
		Tags                 [][]any  `json:"tags"`
		Identity             string   `json:"identity"`
		CreationTime         int64    `json:"creationTime"`
		LastAuthorizedTime   int64    `json:"lastAuthorizedTime"`
		LastDeauthorizedTime int64    `json:"lastDeauthorizedTime"`
		Revision             int      `json:"revision"`
		VMajor               int      `json:"vMajor"`
		VMinor               int      `json:"vMinor"`
		VRev                 int      `json:"vRev"`
		VProto               int      `json:"vProto"`
	}

	v2NetworkJSON struct {
		ID             string              `json:"id"`
		Name           string              `json:"name"`
		Description    string              `json:"description,omitempty"`
		Kind           string              `json:"kind"`
		NetworkGroupID string              `json:"networkGroupId"`
		CreationTime   time.Time           `json:"creationTime"`
		LastModified   time.Time           `json:"lastModified"`
		Config         v2NetworkConfigJSON `json:"config"`
	}
	v2NetworkConfigJSON struct {
		Private             bool            `json:"private"`
		EnableBroadcast     bool            `json:"enableBroadcast"`
		MTU                 int             `json:"mtu"`
		MulticastLimit      int             `json:"multicastLimit"`
		Routes              []route         `json:"routes"`
		DNS                 dnsJSON         `json:"dns"`
		V4Subnet            string          `json:"v4Subnet"`
		V4AssignmentMode    map[string]bool `json:"v4AssignmentMode"`
		V4IPAssignmentPools []ipRange       `json:"v4IpAssignmentPools"`
		V6Subnet            string          `json:"v6Subnet"`
		V6AssignmentMode    map[string]bool `json:"v6AssignmentMode"`
		V6IPAssignmentPools []ipRange       `json:"v6IpAssignmentPools"`
	}
	v2NetworkSummaryJSON struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		Description      string         `json:"description,omitempty"`
		Kind             string         `json:"kind"`
		NetworkGroupID   string         `json:"networkGroupId"`
		NetworkGroupName string         `json:"networkGroupName"`
		Permissions      map[string]any `json:"permissions"`
		Stats            map[string]int `json:"stats"`
	}
	v2MemberJSON struct {
		NetworkID            string            `json:"networkId"`
		DeviceID             string            `json:"deviceId"`
		Name                 string            `json:"name"`
		Description          string            `json:"description"`
		Status               string            `json:"status"`
		ActiveBridge         bool              `json:"activeBridge"`
		NoAutoAssignIPs      bool              `json:"noAutoAssignIps"`
		IPv4Assignments      []string          `json:"ipv4Assignments"`
		IPv6Assignments      []string          `json:"ipv6Assignments"`
		IPAssignment6plane   string            `json:"ipAssignment6plane"`
		IPAssignmentRfc4193  string            `json:"ipAssignmentRfc4193"`
		Capabilities         []string          `json:"capabilities"`
		Tags                 []string          `json:"tags"`
		Identity             string            `json:"identity"`
		AgentVersion         string            `json:"agentVersion"`
		OS                   string            `json:"os"`
		Arch                 string            `json:"arch"`
		MACAddress           string            `json:"macAddress"`
		Revision             int               `json:"revision"`
		LastSeenIP           string            `json:"lastSeenIp"`
		LastSeen             map[string]string `json:"lastSeen"`
		CreationTime         time.Time         `json:"creationTime"`
		LastModified         time.Time         `json:"lastModified"`
		LastAuthorizedTime   *time.Time        `json:"lastAuthorizedTime,omitempty"`
		LastDeauthorizedTime *time.Time        `json:"lastDeauthorizedTime,omitempty"`
	}
)

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clone(s)
}

func (n *network) counts() (authorized, total int) {
	for _, m := range n.members {
		if m.authorized {
			authorized++
		}
	}
	return authorized, len(n.members)
}

func (s *Server) v1NetworkLocked(n *network, now time.Time) v1NetworkJSON {
	owner := DefaultLegacyUser
	if len(s.st.userOrder) > 0 {
		owner = s.st.userOrder[0]
	}
	auth, total := n.counts()
	return v1NetworkJSON{
		ID: n.id, Type: "Network", Clock: ms(now), Description: n.description, RulesSource: n.rulesSource,
		OwnerID: owner, Permissions: map[string]map[string]bool{owner: {"a": true, "d": true, "m": true, "r": true}},
		AuthorizedMemberCount: auth, TotalMemberCount: total,
		CapabilitiesByName: map[string]any{}, TagsByName: map[string]any{},
		Config: v1NetworkConfigJSON{
			ID: n.id, Name: n.name, Private: n.private, CreationTime: ms(n.created), LastModified: ms(n.modified),
			EnableBroadcast: n.enableBroadcast, MTU: n.mtu, MulticastLimit: n.multicastLimit,
			Routes: nonNil(n.routes), IPAssignmentPools: nonNil(n.pools),
			V4AssignMode: map[string]bool{"zt": n.v4ZT},
			V6AssignMode: map[string]bool{"zt": n.v6ZT, "6plane": n.v6Plane, "rfc4193": n.v6RFC4193},
			DNS:          dnsJSON{Domain: n.dnsDomain, Servers: n.dnsServers},
			Rules:        []any{map[string]string{"type": "ACTION_ACCEPT"}}, Capabilities: []any{}, Tags: []any{},
			SSOConfig: map[string]any{"enabled": false, "mode": "default", "clientId": "", "allowList": nil},
		},
	}
}

func v1MemberOf(m *member, now time.Time) v1MemberJSON {
	return v1MemberJSON{
		ID: m.networkID + "-" + m.nodeID, Clock: ms(now), NetworkID: m.networkID, NodeID: m.nodeID,
		ControllerID: m.networkID[:10], Hidden: m.hidden, Name: m.name, Description: m.description,
		LastOnline: ms(m.modified), LastSeen: ms(m.modified), PhysicalAddress: m.physicalAddress,
		ClientVersion: m.clientVersion, ProtocolVersion: 13, SupportsRulesEngine: true,
		Config: v1MemberConfigJSON{
			ID: m.nodeID, Authorized: m.authorized, ActiveBridge: m.activeBridge, NoAutoAssignIPs: m.noAutoAssignIPs,
			SSOExempt: m.ssoExempt, IPAssignments: nonNil(m.ipAssignments), Capabilities: nonNil(m.capabilities),
			Tags: nonNil(m.tags), Identity: m.identity, CreationTime: ms(m.created),
			LastAuthorizedTime: ms(m.lastAuthorized), LastDeauthorizedTime: ms(m.lastDeauthorized),
			Revision: m.revision, VMajor: 1, VMinor: 14, VRev: 2, VProto: 13,
		},
	}
}

func v2NetworkOf(n *network) v2NetworkJSON {
	subnet := ""
	if len(n.routes) > 0 {
		subnet = n.routes[0].Target
	}
	return v2NetworkJSON{
		ID: n.id, Name: n.name, Description: n.description, Kind: "v1", NetworkGroupID: n.groupID,
		CreationTime: n.created.UTC(), LastModified: n.modified.UTC(),
		Config: v2NetworkConfigJSON{
			Private: n.private, EnableBroadcast: n.enableBroadcast, MTU: n.mtu, MulticastLimit: n.multicastLimit,
			Routes: nonNil(n.routes), DNS: dnsJSON{Domain: n.dnsDomain, Servers: nonNil(n.dnsServers)},
			V4Subnet: subnet, V4AssignmentMode: map[string]bool{"zt": n.v4ZT}, V4IPAssignmentPools: nonNil(n.pools),
			V6AssignmentMode:    map[string]bool{"zt": n.v6ZT, "6plane": n.v6Plane, "rfc4193": n.v6RFC4193},
			V6IPAssignmentPools: []ipRange{},
		},
	}
}

func v2SummaryOf(n *network) v2NetworkSummaryJSON {
	auth, total := n.counts()
	rejected := 0
	for _, m := range n.members {
		if m.rejected {
			rejected++
		}
	}
	return v2NetworkSummaryJSON{
		ID: n.id, Name: n.name, Description: n.description, Kind: "v1",
		NetworkGroupID: n.groupID, NetworkGroupName: defaultNetworkGroupName,
		Permissions: map[string]any{"read": true, "write": true},
		Stats: map[string]int{
			"activeDevices": 0, "authorizedDevices": auth, "notAuthorizedDevices": total - auth - rejected,
			"rejectedDevices": rejected, "totalDevices": total,
		},
	}
}

func v2MemberOf(m *member) v2MemberJSON {
	var v4, v6 []string
	for _, a := range m.ipAssignments {
		if ip, err := netip.ParseAddr(a); err == nil && ip.Is6() {
			v6 = append(v6, a)
		} else {
			v4 = append(v4, a)
		}
	}
	return v2MemberJSON{
		NetworkID: m.networkID, DeviceID: m.nodeID, Name: m.name, Description: m.description, Status: m.status(),
		ActiveBridge: m.activeBridge, NoAutoAssignIPs: m.noAutoAssignIPs,
		IPv4Assignments: nonNil(v4), IPv6Assignments: nonNil(v6),
		Capabilities: []string{}, Tags: []string{}, Identity: m.identity, AgentVersion: m.clientVersion,
		OS: m.osName, Arch: "x86_64", MACAddress: "f2:00:00:00:00:01", Revision: m.revision,
		LastSeenIP: m.physicalAddress, LastSeen: map[string]string{m.physicalAddress + "/9993": m.modified.UTC().Format(time.RFC3339)},
		CreationTime: m.created.UTC(), LastModified: m.modified.UTC(),
		LastAuthorizedTime: optTime(m.lastAuthorized), LastDeauthorizedTime: optTime(m.lastDeauthorized),
	}
}
