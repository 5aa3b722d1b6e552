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

func (s *Store) BeginRevoke(_ context.Context, p store.BeginRevokeParams) (*lease.Lease, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.find(p.ID, p.Owner)
	if err != nil {
		return nil, false, err
	}
	switch l.State {
	case lease.StateActive:
	case lease.StatePending:
		return nil, false, fmt.Errorf("memstore: revoke %s while pending: %w", p.ID, errs.FailedPrecondition)
	default:
		return clone(l), true, nil
	}
	now := ts(p.Now)
	startRevoke(l, p.Reason, p.RevokedBy, now, ts(p.ClaimUntil))
	s.maybeAudit(p.Audit, l, now)
	return clone(l), false, nil
}

func (s *Store) RevokeActive(_ context.Context, p store.RevokeActiveParams) (*lease.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.find(p.ID, p.Owner)
	if err != nil {
		return nil, err
	}
	if l.State != lease.StateActive {
		return nil, fmt.Errorf("memstore: revoke active %s in state %s: %w", p.ID, l.State, errs.Conflict)
	}
	now, done := ts(p.Now), ts(p.DoneAt)
	startRevoke(l, p.Reason, p.RevokedBy, now, time.Time{})
	finishRevoke(l, done)
	s.maybeAudit(p.Audit, l, now)
	s.maybeAudit(p.Completion, l, done)
	return clone(l), nil
}

func startRevoke(l *lease.Lease, reason, by string, now, next time.Time) {
	l.State = lease.StateRevoking
	l.RevokeReason = reason
	l.RevokedBy = by
	l.RevokeTime = now
	l.NextAttemptAt = next
	l.UpdatedAt = now
}

// dueAt is when a lease next needs the revocation worker, if ever.
func dueAt(l *lease.Lease) (time.Time, bool) {
	switch l.State {
	case lease.StateActive:
		return l.ExpireTime, true
	case lease.StateRevoking, lease.StateRevokeFailed:
		return l.NextAttemptAt, true
	}
	return time.Time{}, false
}

func (s *Store) ClaimDue(_ context.Context, p store.ClaimDueParams) ([]*lease.Lease, error) {
	if err := requireLimit(p.Limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now, until := ts(p.Now), ts(p.ClaimUntil)
	var due []*lease.Lease
	for _, l := range s.leases {
		if t, ok := dueAt(l); ok && !t.After(now) {
			due = append(due, l)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		ti, _ := dueAt(due[i])
		tj, _ := dueAt(due[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return due[i].ID < due[j].ID
	})
	if len(due) > p.Limit {
		due = due[:p.Limit]
	}
	out := make([]*lease.Lease, 0, len(due))
	for _, l := range due {
		if l.State == lease.StateActive {
			startRevoke(l, lease.ReasonExpired, "", now, until)
		} else {
			l.NextAttemptAt = until
			l.UpdatedAt = now
		}
		out = append(out, clone(l))
	}
	sortByID(out)
	return out, nil
}

func sortByID(ls []*lease.Lease) {
	sort.Slice(ls, func(i, j int) bool { return ls[i].ID < ls[j].ID })
}

func (s *Store) CompleteRevoke(_ context.Context, p store.CompleteRevokeParams) (*lease.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.findIn(p.ID, "complete revoke of", errs.Conflict, lease.StateRevoking, lease.StateRevokeFailed)
	if err != nil {
		return nil, err
	}
	now := ts(p.Now)
	finishRevoke(l, now)
	s.maybeAudit(p.Audit, l, now)
	return clone(l), nil
}

func finishRevoke(l *lease.Lease, now time.Time) {
	l.State = lease.StateRevoked
	if l.RevokeTime.IsZero() {
		l.RevokeTime = now
	}
	l.NextAttemptAt = time.Time{}
	l.UpdatedAt = now
}

func (s *Store) RecordRevokeFailure(_ context.Context, p store.RecordRevokeFailureParams) (*lease.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.findIn(p.ID, "record revoke failure of", errs.Conflict, lease.StateRevoking, lease.StateRevokeFailed)
	if err != nil {
		return nil, err
	}
	now := ts(p.Now)
	l.RevokeAttempts++
	l.LastError = p.Err
	l.NextAttemptAt = ts(p.NextAttemptAt)
	if p.MarkFailed {
		l.State = lease.StateRevokeFailed
	}
	l.UpdatedAt = now
	s.maybeAudit(p.Audit, l, now)
	return clone(l), nil
}

func (s *Store) NextDueTime(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	found := false
	for _, l := range s.leases {
		if t, ok := dueAt(l); ok && (!found || t.Before(next)) {
			next, found = t, true
		}
	}
	return next, found, nil
}

func (s *Store) ClaimStalePending(_ context.Context, p store.ClaimStalePendingParams) ([]*lease.Lease, error) {
	if err := requireLimit(p.Limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before, now, until := ts(p.CreatedBefore), ts(p.Now), ts(p.ClaimUntil)
	var stale []*lease.Lease
	for _, l := range s.leases {
		if l.State == lease.StatePending && l.CreatedAt.Before(before) && !l.NextAttemptAt.After(now) {
			stale = append(stale, l)
		}
	}
	sort.Slice(stale, func(i, j int) bool {
		if !stale[i].CreatedAt.Equal(stale[j].CreatedAt) {
			return stale[i].CreatedAt.Before(stale[j].CreatedAt)
		}
		return stale[i].ID < stale[j].ID
	})
	if len(stale) > p.Limit {
		stale = stale[:p.Limit]
	}
	out := make([]*lease.Lease, 0, len(stale))
	for _, l := range stale {
		l.NextAttemptAt = until
		l.UpdatedAt = now
		out = append(out, clone(l))
	}
	sortByID(out)
	return out, nil
}

func (s *Store) ForgetLease(_ context.Context, p store.ForgetLeaseParams) (*lease.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.findIn(p.ID, "forget", errs.FailedPrecondition, lease.StateRevoking, lease.StateRevokeFailed)
	if err != nil {
		return nil, err
	}
	now := ts(p.Now)
	l.RevokeReason = p.Reason
	l.RevokedBy = p.RevokedBy
	finishRevoke(l, now)
	s.maybeAudit(p.Audit, l, now)
	return clone(l), nil
}

func (s *Store) RevokeMatching(_ context.Context, p store.RevokeMatchingParams) (*store.RevokeMatchingResult, error) {
	if err := requireLimit(p.Limit); err != nil {
		return nil, err
	}
	f := p.Filter
	if !f.All && f.Purpose == "" && f.Owner == "" && f.LabelKey == "" {
		return nil, fmt.Errorf("memstore: revoke matching: empty filter without All: %w", errs.InvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*lease.Lease
	for _, l := range s.leases {
		if l.State == lease.StateActive &&
			(f.Purpose == "" || l.Purpose == f.Purpose) &&
			(f.Owner == "" || l.Owner == f.Owner) &&
			labelMatch(l, f.LabelKey, f.LabelVal) {
			match = append(match, l)
		}
	}
	sortByID(match)
	done := min(len(match), p.Limit)
	res := &store.RevokeMatchingResult{Done: done, Remaining: len(match) - done}
	now := ts(p.Now)
	for i, l := range match[:done] {
		if i < maxReportedIDs {
			res.IDs = append(res.IDs, l.ID)
		}
		if !p.DryRun {
			startRevoke(l, p.Reason, p.RevokedBy, now, now)
		}
	}
	return res, nil
}

// maxReportedIDs bounds RevokeMatchingResult.IDs.
const maxReportedIDs = 100
