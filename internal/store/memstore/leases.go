package memstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func (s *Store) CreatePending(_ context.Context, p store.CreatePendingParams) (*store.CreatePendingResult, error) {
	if p.ExpireTime.After(p.MaxExpireTime) {
		return nil, fmt.Errorf("memstore: create: expire time after max: %w", errs.InvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.IdempotencyKey != "" {
		for _, l := range s.leases {
			if l.Owner == p.Owner && l.IdempotencyKey == p.IdempotencyKey {
				return &store.CreatePendingResult{Lease: clone(l), Existing: true}, nil
			}
		}
	}
	if p.Quota != nil {
		if err := s.checkQuota(p); err != nil {
			return nil, err
		}
	}
	if _, ok := s.leases[p.ID]; ok {
		return nil, fmt.Errorf("memstore: create: lease %s: %w", p.ID, errs.AlreadyExists)
	}
	now := ts(p.Now)
	if p.Delivery == "" {
		p.Delivery = lease.DeliveryToken
	}
	l := &lease.Lease{
		ID:              p.ID,
		Purpose:         p.Purpose,
		Owner:           p.Owner,
		State:           lease.StatePending,
		Labels:          cloneLabels(p.Labels),
		Delivery:        p.Delivery,
		Upstream:        p.Upstream,
		UpstreamKind:    p.UpstreamKind,
		UpstreamAccount: p.UpstreamAccount,
		UpstreamName:    p.UpstreamName,
		IssueTime:       now,
		ExpireTime:      ts(p.ExpireTime),
		MaxExpireTime:   ts(p.MaxExpireTime),
		IdempotencyKey:  p.IdempotencyKey,
		AdmittedBy:      p.AdmittedBy,
		GrantedMaxTTL:   p.GrantedMaxTTL,
		RequestedTTL:    p.RequestedTTL,
		OwnerClaims:     cloneLabels(p.OwnerClaims),
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	s.leases[l.ID] = l
	s.maybeAudit(p.Audit, l, now)
	return &store.CreatePendingResult{Lease: clone(l)}, nil
}

// checkQuota applies p.Quota. Callers hold s.mu, which is what makes the
// check and the insert atomic here.
func (s *Store) checkQuota(p store.CreatePendingParams) error {
	q := p.Quota
	now := ts(p.Now)
	windowStart := now.Add(-q.Window)
	var perPurpose, perOwner, inWindow int
	var oldest time.Time
	// The earliest expiry among the leases each active limit counts.
	var purposeFrees, ownerFrees time.Time
	for _, l := range s.leases {
		if l.Purpose != p.Purpose {
			continue
		}
		holding := l.State == lease.StatePending || l.State == lease.StateActive
		if holding {
			perPurpose++
			purposeFrees = earlier(purposeFrees, l.ExpireTime)
		}
		if l.Owner != p.Owner {
			continue
		}
		if holding {
			perOwner++
			ownerFrees = earlier(ownerFrees, l.ExpireTime)
		}
		if l.CreatedAt.After(windowStart) {
			inWindow++
			// As PostgreSQL's min(created_at): a lease stamped later
			// than now by another replica's clock still counts from its
			// own time.
			oldest = earlier(oldest, l.CreatedAt)
		}
	}
	switch {
	case q.MaxActivePerPurpose > 0 && perPurpose >= q.MaxActivePerPurpose:
		return &store.QuotaError{Limit: "active_per_purpose", Max: q.MaxActivePerPurpose,
			RetryAfter: untilFree(purposeFrees, now)}
	case q.MaxActivePerOwner > 0 && perOwner >= q.MaxActivePerOwner:
		return &store.QuotaError{Limit: "active_per_owner", Max: q.MaxActivePerOwner,
			RetryAfter: untilFree(ownerFrees, now)}
	case q.MaxIssuesPerWindow > 0 && inWindow >= q.MaxIssuesPerWindow:
		return &store.QuotaError{Limit: "issue_rate", Max: q.MaxIssuesPerWindow,
			RetryAfter: oldest.Add(q.Window).Sub(now)}
	}
	return nil
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// minActiveRetry is the least retry delay an active limit reports: a
// lease past its expiry still holds its slot until the revoker ends it,
// which takes a moment.
const minActiveRetry = time.Second

// untilFree is how long until the first counted lease expires and, once
// revoked, frees its slot.
func untilFree(expires, now time.Time) time.Duration {
	return max(expires.Sub(now), minActiveRetry)
}

func (s *Store) Activate(_ context.Context, p store.ActivateParams) (*lease.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.findIn(p.ID, "activate", errs.Conflict, lease.StatePending)
	if err != nil {
		return nil, err
	}
	now := ts(p.Now)
	l.State = lease.StateActive
	l.UpstreamTokenID = p.UpstreamTokenID
	l.TokenSHA256 = p.TokenSHA256
	l.UpstreamExpireTime = ts(p.UpstreamExpireTime)
	l.IssueTime = now
	l.UpdatedAt = now
	if len(p.SealedSecret) > 0 {
		s.secrets[p.ID] = sealed{data: append([]byte(nil), p.SealedSecret...), until: ts(p.SealedUntil)}
	}
	s.maybeAudit(p.Audit, l, now)
	return clone(l), nil
}

func (s *Store) FailPending(_ context.Context, p store.FailPendingParams) (*lease.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.findIn(p.ID, "fail", errs.Conflict, lease.StatePending)
	if err != nil {
		return nil, err
	}
	now := ts(p.Now)
	l.State = lease.StateFailed
	l.RevokeReason = p.Reason
	l.RevokeTime = now
	l.NextAttemptAt = time.Time{}
	l.UpdatedAt = now
	s.maybeAudit(p.Audit, l, now)
	return clone(l), nil
}

func (s *Store) GetLease(_ context.Context, p store.GetLeaseParams) (*lease.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.find(p.ID, p.Owner)
	if err != nil {
		return nil, err
	}
	return clone(l), nil
}

func (s *Store) GetProxyLease(_ context.Context, p store.GetProxyLeaseParams) (*store.ProxyLease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.CredentialSHA256 != "" {
		for _, l := range s.leases {
			if l.IsProxy() && l.TokenSHA256 == p.CredentialSHA256 {
				return &store.ProxyLease{
					ID: l.ID, Purpose: l.Purpose, Owner: l.Owner, State: l.State,
					ExpireTime: l.ExpireTime, Labels: cloneLabels(l.Labels), TokenSHA256: l.TokenSHA256,
				}, nil
			}
		}
	}
	return nil, fmt.Errorf("memstore: get proxy lease: %w", errs.NotFound)
}

func (s *Store) ListLeases(_ context.Context, p store.ListLeasesParams) (*store.ListLeasesResult, error) {
	if err := requireLimit(p.PageSize); err != nil {
		return nil, err
	}
	var after string
	if p.After != "" {
		var err error
		if after, err = decodeCursor(p.After); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*lease.Lease
	for _, l := range s.leases {
		if (p.Owner != "" && l.Owner != p.Owner) ||
			(p.Purpose != "" && l.Purpose != p.Purpose) ||
			(p.State != "" && l.State != p.State) ||
			!labelMatch(l, p.LabelKey, p.LabelVal) ||
			(after != "" && l.ID >= after) {
			continue
		}
		match = append(match, l)
	}
	sort.Slice(match, func(i, j int) bool { return match[i].ID > match[j].ID })
	res := &store.ListLeasesResult{}
	if len(match) > p.PageSize {
		match = match[:p.PageSize]
		res.Next = encodeCursor(match[len(match)-1].ID)
	}
	for _, l := range match {
		res.Leases = append(res.Leases, clone(l))
	}
	return res, nil
}

func labelMatch(l *lease.Lease, key, val string) bool {
	if key == "" {
		return true
	}
	v, ok := l.Labels[key]
	return ok && v == val
}

func (s *Store) RenewLease(_ context.Context, p store.RenewLeaseParams) (*lease.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.find(p.ID, p.Owner)
	if err != nil {
		return nil, err
	}
	if l.State != lease.StateActive {
		return nil, fmt.Errorf("memstore: renew %s in state %s: %w", p.ID, l.State, errs.FailedPrecondition)
	}
	now := ts(p.Now)
	if !l.ExpireTime.After(now) {
		return nil, fmt.Errorf("memstore: renew %s after it expired: %w", p.ID, errs.FailedPrecondition)
	}
	exp := ts(p.ExpireTime)
	if exp.After(l.MaxExpireTime) {
		return nil, fmt.Errorf("memstore: renew %s past its max expire time: %w", p.ID, errs.InvalidArgument)
	}
	l.ExpireTime = exp
	l.UpdatedAt = now
	s.maybeAudit(p.Audit, l, now)
	return clone(l), nil
}
