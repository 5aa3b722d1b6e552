package clientcmd

import (
	"strings"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// stateName turns STATE_REVOKE_FAILED into "revoke_failed", the spelling
// the broker uses everywhere else.
func stateName(s ztbrokerv1.Lease_State) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "STATE_"))
}

// parseState is the inverse of stateName; "" means any state.
func parseState(s string) (ztbrokerv1.Lease_State, error) {
	if s == "" {
		return ztbrokerv1.Lease_STATE_UNSPECIFIED, nil
	}
	v, ok := ztbrokerv1.Lease_State_value["STATE_"+strings.ToUpper(s)]
	if !ok || v == 0 {
		return 0, usagef("--state %q is not one of pending, active, revoking, revoked, failed, revoke_failed", s)
	}
	return ztbrokerv1.Lease_State(v), nil
}

// live reports whether the lease's holder can still use its token.
func live(l *ztbrokerv1.Lease) bool {
	switch l.GetState() {
	case ztbrokerv1.Lease_STATE_PENDING, ztbrokerv1.Lease_STATE_ACTIVE:
		return true
	}
	return false
}
