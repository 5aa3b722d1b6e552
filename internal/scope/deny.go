package scope

// hardDeny reports whether a path can create a credential or an identity,
// or grant access, on either API. It is checked before any rule and no
// rule can lift it: ZeroTier credentials are org-wide admin keys, so a
// holder who could mint one would escape its lease and its scope. segs
// are the segments after /api/vN; template parameters count as any value.
func hardDeny(api API, segs []string) (why string, denied bool) {
	if len(segs) == 0 {
		return "", false
	}
	const (
		creds    = "can create or change credentials"
		identity = "can create or change identities or their access"
	)
	for _, s := range segs {
		// IAM grants roles at org, group and network level.
		if s == "iam" || s == "iam-tree" {
			return identity, true
		}
	}
	switch api {
	case APIv2:
		switch segs[0] {
		case "service-account", "api-key":
			return creds, true
		case "user":
			return identity, true
		case "org":
			if len(segs) >= 3 {
				switch segs[2] {
				case "service-account":
					return creds, true
				case "invitation", "invitations", "member", "members", "user", "users", "principal":
					return identity, true
				}
			}
		}
	case APIv1:
		switch segs[0] {
		case "user":
			if len(segs) >= 3 && segs[2] == "token" {
				return creds, true
			}
			return identity, true
		case "randomtoken", "auth":
			return creds, true
		case "org", "org-invitation", "invitation":
			return identity, true
		case "network":
			// POST /network/{id}/users sets users' rights on a network.
			if len(segs) >= 3 && segs[2] == "users" {
				return identity, true
			}
		}
	}
	return "", false
}
