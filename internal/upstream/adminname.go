package upstream

import "strings"

// AdminKeyDescription is the description of an admin key the broker mints
// by rotation: "<prefix>-admin@<rotation id>". The "@" cannot occur in a
// lease's name, so no rotated admin key is ever taken for a lease's key,
// and the rotation id finds the key again after a crash.
func AdminKeyDescription(prefix, rotationID string) string {
	return prefix + "-admin@" + rotationID
}

// ParseAdminKeyDescription returns the rotation id of a description made
// by AdminKeyDescription.
func ParseAdminKeyDescription(prefix, desc string) (rotationID string, ok bool) {
	id, ok := strings.CutPrefix(desc, prefix+"-admin@")
	if !ok || id == "" || prefix == "" {
		return "", false
	}
	return id, true
}
