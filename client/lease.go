package client

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// State is where a lease is in its life: pending (being issued), active,
// revoking, revoked, failed (never issued) or revoke_failed.
type State string

// The lease states, spelt as the broker spells them everywhere.
const (
	StatePending      State = "pending"
	StateActive       State = "active"
	StateRevoking     State = "revoking"
	StateRevoked      State = "revoked"
	StateFailed       State = "failed"
	StateRevokeFailed State = "revoke_failed"
)

// Lease is the broker's record of one issued token. It never holds the
// token itself, only its SHA-256.
type Lease struct {
	ID      string
	Purpose string
	// Owner is the caller the lease was issued to, "<kind>:<subject>".
	Owner  string
	State  State
	Labels map[string]string

	IssueTime time.Time
	// ExpireTime is when the token stops working unless renewed.
	ExpireTime time.Time
	// MaxExpireTime is as far as renewal can take the lease.
	MaxExpireTime time.Time

	RevokeTime     time.Time
	RevokedBy      string
	RevokeReason   string
	RevokeAttempts int
	LastError      string

	// Upstream is the configured name of the upstream (ZeroTier
	// organisation or account) the token lives on, e.g. "prod"; its API,
	// UpstreamKind, is "new_central" or "legacy". UpstreamTokenID is the
	// token's id there.
	Upstream        string
	UpstreamKind    string
	UpstreamTokenID string
	TokenSHA256     string
}

// Live reports whether the lease's holder can still use its token, as far
// as the lease's state says.
func (l *Lease) Live() bool { return l.State == StateActive || l.State == StatePending }

func leaseFromProto(p *ztbrokerv1.Lease) *Lease {
	if p == nil {
		return nil
	}
	return &Lease{
		ID:              p.GetId(),
		Purpose:         p.GetPurpose(),
		Owner:           p.GetOwner(),
		State:           stateFromProto(p.GetState()),
		Labels:          p.GetLabels(),
		IssueTime:       timeOf(p.GetIssueTime()),
		ExpireTime:      timeOf(p.GetExpireTime()),
		MaxExpireTime:   timeOf(p.GetMaxExpireTime()),
		RevokeTime:      timeOf(p.GetRevokeTime()),
		RevokedBy:       p.GetRevokedBy(),
		RevokeReason:    p.GetRevokeReason(),
		RevokeAttempts:  int(p.GetRevokeAttempts()),
		LastError:       p.GetLastError(),
		Upstream:        p.GetUpstream(),
		UpstreamKind:    p.GetUpstreamKind(),
		UpstreamTokenID: p.GetUpstreamTokenId(),
		TokenSHA256:     p.GetTokenSha256(),
	}
}

func stateFromProto(s ztbrokerv1.Lease_State) State {
	if s == ztbrokerv1.Lease_STATE_UNSPECIFIED {
		return ""
	}
	return State(strings.ToLower(strings.TrimPrefix(s.String(), "STATE_")))
}

func stateToProto(s State) (ztbrokerv1.Lease_State, bool) {
	if s == "" {
		return ztbrokerv1.Lease_STATE_UNSPECIFIED, true
	}
	v, ok := ztbrokerv1.Lease_State_value["STATE_"+strings.ToUpper(string(s))]
	return ztbrokerv1.Lease_State(v), ok && v != 0
}

// timeOf is the zero time for an unset timestamp.
func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
