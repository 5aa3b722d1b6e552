package lease

import "strings"

// UpstreamNameFor is the name (Legacy) or description (New Central) given
// to the token minted for a lease, so that any upstream token can be traced
// back.
func UpstreamNameFor(prefix, purpose, id string) string {
	return prefix + "-" + purpose + "-" + id
}

// ParseUpstreamName is the inverse of UpstreamNameFor, and the one test of
// whether an upstream token belongs to the broker. It accepts only names
// that are exactly "<prefix>-<purpose>-<lease id>" with a well-formed
// purpose and a lease id as the broker makes them. Everything else — an
// admin key called "ztbroker-prod", "ztbroker-x-notauuid", a random UUID
// someone typed — is somebody else's and must never be deleted as ours.
func ParseUpstreamName(prefix, name string) (purpose, id string, ok bool) {
	rest, found := strings.CutPrefix(name, prefix+"-")
	if prefix == "" || !found || len(rest) < idLen+2 {
		return "", "", false
	}
	purpose, id = rest[:len(rest)-idLen-1], rest[len(rest)-idLen:]
	if rest[len(rest)-idLen-1] != '-' || !validPurpose(purpose) || !WellFormedID(id) {
		return "", "", false
	}
	return purpose, id, true
}

// idLen is the length of a canonical UUID.
const idLen = 36

// WellFormedID reports whether id is a lease id as the broker makes them: a
// UUIDv7 (RFC 9562) in canonical lower-case form. Version 7 puts the
// creation time first, which keeps lease ids in time order.
func WellFormedID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < idLen; i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		case 14: // version
			if c != '7' {
				return false
			}
		case 19: // variant 10xx
			if c != '8' && c != '9' && c != 'a' && c != 'b' {
				return false
			}
		default:
			if !isLowerHex(c) {
				return false
			}
		}
	}
	return true
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// validPurpose mirrors the config's rule for purpose names: 1-63 of
// [a-z0-9-], not starting or ending with a dash.
func validPurpose(p string) bool {
	if len(p) == 0 || len(p) > 63 || p[0] == '-' || p[len(p)-1] == '-' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
