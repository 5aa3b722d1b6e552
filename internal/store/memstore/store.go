package memstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store keeps leases, sealed secrets and audit events in memory.
type Store struct {
	mu      sync.Mutex
	leases  map[string]*lease.Lease
	secrets map[string]sealed
	audit   []*store.AuditEvent // in id order
	// lastAuditID is the id of the newest event ever appended: retention
	// removes old events, and ids must never be reused.
	lastAuditID int64

	upstream upstreamState
}

type sealed struct {
	data  []byte
	until time.Time
}

// New returns an empty store.
func New() *Store {
	return &Store{leases: map[string]*lease.Lease{}, secrets: map[string]sealed{}, upstream: newUpstreamState()}
}

// Ping always succeeds: memory is always reachable.
func (s *Store) Ping(context.Context) error { return nil }

// ts normalises a time the way PostgreSQL's timestamptz stores it, so both
// stores return identical values.
func ts(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func clone(l *lease.Lease) *lease.Lease {
	c := *l
	c.Labels = cloneLabels(l.Labels)
	c.OwnerClaims = cloneLabels(l.OwnerClaims)
	return &c
}

func cloneLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// find returns the lease with id, honouring the owner restriction.
func (s *Store) find(id, owner string) (*lease.Lease, error) {
	l, ok := s.leases[id]
	if !ok || (owner != "" && l.Owner != owner) {
		return nil, fmt.Errorf("memstore: lease %s: %w", id, errs.NotFound)
	}
	return l, nil
}

// findIn is find for a transition that only leases in states may take. A
// lease in any other state fails with sentinel and an error naming op.
func (s *Store) findIn(id, op string, sentinel error, states ...lease.State) (*lease.Lease, error) {
	l, err := s.find(id, "")
	if err != nil {
		return nil, err
	}
	if !slices.Contains(states, l.State) {
		return nil, fmt.Errorf("memstore: %s %s in state %s: %w", op, id, l.State, sentinel)
	}
	return l, nil
}

// appendAudit records e with the next id; now fills a missing time.
// Callers hold s.mu.
func (s *Store) appendAudit(e *store.AuditEvent, now time.Time) int64 {
	c := *e
	s.lastAuditID++
	c.ID = s.lastAuditID
	if c.Time.IsZero() {
		c.Time = now
	}
	c.Time = ts(c.Time)
	c.ActorClaims = cloneLabels(e.ActorClaims)
	s.audit = append(s.audit, &c)
	return c.ID
}

// maybeAudit records e for a change to l; an event that leaves the
// purpose, lease id or upstream empty takes them from the lease, as callers often
// know only the id before the store has read the row.
func (s *Store) maybeAudit(e *store.AuditEvent, l *lease.Lease, now time.Time) {
	if e == nil {
		return
	}
	c := *e
	if c.Purpose == "" {
		c.Purpose = l.Purpose
	}
	if c.LeaseID == "" {
		c.LeaseID = l.ID
	}
	if c.Upstream == "" {
		c.Upstream = l.Upstream
	}
	s.appendAudit(&c, now)
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("memstore: page cursor: %w", errs.InvalidArgument)
	}
	return string(b), nil
}

func requireLimit(n int) error {
	if n < 1 {
		return fmt.Errorf("memstore: limit %d: %w", n, errs.InvalidArgument)
	}
	return nil
}
