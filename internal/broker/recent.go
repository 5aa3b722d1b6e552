package broker

import (
	"sync"

	"github.com/ztbroker/ztbroker/internal/lease"
)

// recentCapacity bounds the leases a Service remembers: enough for every
// lease of a busy CI fleet issued in the last minutes, at a few hundred
// bytes each.
const recentCapacity = 1024

// recentLeases remembers the leases this process activated last, so that
// an explicit revoke of one of them (the usual end of a lease, often
// seconds after its issue) need not read the row before it deletes the
// token upstream: the read was one of a lease cycle's four round trips to
// PostgreSQL.
//
// What a revoke takes from the remembered lease never changes once the
// lease is active (owner, purpose, upstream, account, token id and hash),
// so the snapshot is only ever stale about the state. That is safe: the
// revoke's write still requires the row to be active and owned by the
// caller, and when another replica, the revoker or an operator has moved
// the lease on since, the write matches nothing and the revoke falls back
// to the durable path, which reads what stands and answers as if the read
// had come first. The one difference is a second upstream delete of a
// token that is already gone, which counts as deleted.
//
// Reads of a lease (GetLease, ListLeases) never use it: they must show
// the state as it is.
type recentLeases struct {
	mu   sync.Mutex
	byID map[string]*lease.Lease
	ring []string // insertion order; the oldest is overwritten first
	next int
}

func newRecentLeases(n int) *recentLeases {
	return &recentLeases{byID: make(map[string]*lease.Lease, n), ring: make([]string, n)}
}

// add remembers l, an active lease this process just wrote. It keeps a
// copy without the labels and the owner's claims, which a revoke does not
// use, so that a full memory costs a few hundred kilobytes.
func (r *recentLeases) add(l *lease.Lease) {
	if len(r.ring) == 0 || l.State != lease.StateActive {
		return
	}
	snap := *l
	snap.Labels, snap.OwnerClaims = nil, nil
	l = &snap
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.ring[r.next]; old != "" {
		delete(r.byID, old)
	}
	r.ring[r.next] = l.ID
	r.byID[l.ID] = l
	r.next = (r.next + 1) % len(r.ring)
}

// take returns the remembered lease with id and forgets it, or nil: a
// revoke uses a snapshot once, and a retry reads the row. With owner set
// only that owner's lease is returned; another caller's attempt leaves it
// in place (and reads, which answers it as not found).
func (r *recentLeases) take(id, owner string) *lease.Lease {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.byID[id]
	if !ok || (owner != "" && l.Owner != owner) {
		return nil
	}
	delete(r.byID, id)
	// The ring slot keeps the id until it is reused; deleting an absent
	// key then is harmless, and a re-added id cannot occur (ids are
	// unique, and a lease is activated once).
	return l
}
