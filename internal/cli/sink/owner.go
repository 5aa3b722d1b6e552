package sink

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// Owner is who sink files belong to. The zero value leaves them to the
// agent's own user.
type Owner struct {
	UID, GID int
	set      bool
}

// Set reports whether an owner was given.
func (o Owner) Set() bool { return o.set }

// ParseOwner reads "user[:group]", each a name or a number. Without a
// group, a named user's primary group is used, and a numeric user's
// number serves as the group too.
func ParseOwner(s string) (Owner, error) {
	if s == "" {
		return Owner{}, nil
	}
	u, g, hasGroup := strings.Cut(s, ":")
	uid, primary, err := lookupUser(u)
	if err != nil {
		return Owner{}, err
	}
	gid := primary
	if hasGroup {
		if gid, err = lookupGroup(g); err != nil {
			return Owner{}, err
		}
	}
	return Owner{UID: uid, GID: gid, set: true}, nil
}

func lookupUser(s string) (uid, gid int, err error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, n, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, 0, fmt.Errorf("owner: unknown user %q", s)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

func lookupGroup(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("owner: unknown group %q", s)
	}
	gid, _ := strconv.Atoi(g.Gid)
	return gid, nil
}
