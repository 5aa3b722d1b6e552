package reconcile

import (
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// matcher finds the lease an upstream token belongs to.
type matcher struct {
	byID map[string]*lease.Lease
	// byName holds only leases without a token id yet. A lease that has
	// one owns exactly that token; another token with its name (a retried
	// mint's leftover) is an orphan.
	byName map[string]*lease.Lease
}

func newMatcher(leases []*lease.Lease) *matcher {
	m := &matcher{byID: map[string]*lease.Lease{}, byName: map[string]*lease.Lease{}}
	for _, l := range leases {
		switch {
		case l.UpstreamTokenID != "":
			m.byID[l.UpstreamTokenID] = prefer(m.byID[l.UpstreamTokenID], l)
		case l.UpstreamName != "":
			m.byName[l.UpstreamName] = prefer(m.byName[l.UpstreamName], l)
		}
	}
	return m
}

func (m *matcher) match(t upstream.Token) *lease.Lease {
	if l, ok := m.byID[t.ID]; ok {
		return l
	}
	return m.byName[t.Name]
}

// prefer keeps a live lease over an ended one when two claim the same
// token, so an ended duplicate can never get a live token deleted.
func prefer(cur, l *lease.Lease) *lease.Lease {
	if cur == nil || (!cur.State.Live() && l.State.Live()) {
		return l
	}
	return cur
}
