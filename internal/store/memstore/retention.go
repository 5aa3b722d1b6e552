package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func (s *Store) DeleteEndedLeases(_ context.Context, p store.DeleteEndedLeasesParams) (int, error) {
	if err := requireLimit(p.Limit); err != nil {
		return 0, err
	}
	if p.EndedBefore.IsZero() {
		return 0, fmt.Errorf("memstore: delete ended leases: no cutoff: %w", errs.InvalidArgument)
	}
	before := ts(p.EndedBefore)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, l := range s.leases {
		if n == p.Limit {
			break
		}
		if !deletable(l) || !l.UpdatedAt.Before(before) {
			continue
		}
		delete(s.leases, id)
		delete(s.secrets, id)
		n++
	}
	return n, nil
}

// deletable is the rule pgstore's sqlDeleteEndedLeases states in SQL.
func deletable(l *lease.Lease) bool {
	switch l.State {
	case lease.StateFailed:
		return true
	case lease.StateRevoked:
		return l.RevokeReason != lease.ReasonForgotten || l.IsProxy()
	}
	return false
}

// MaintainAuditPartitions treats each month (UTC) of the trail as the
// partition PostgreSQL would keep, so that the dev store drops what the
// real one would and audits it the same way. It has nothing to make ahead.
func (s *Store) MaintainAuditPartitions(_ context.Context, p store.MaintainAuditParams) (*store.AuditMaintenance, error) {
	if p.Ahead < 1 || p.Ahead > 24 {
		return nil, fmt.Errorf("memstore: maintain audit partitions: ahead %d not in [1, 24]: %w", p.Ahead, errs.InvalidArgument)
	}
	res := &store.AuditMaintenance{}
	if p.KeepSince.IsZero() {
		return res, nil
	}
	if p.KeepSince.After(time.Now().Add(-store.MinAuditRetention)) {
		return nil, fmt.Errorf("memstore: maintain audit partitions: keep since %s is within %s: %w",
			p.KeepSince, store.MinAuditRetention, errs.InvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dropped := map[time.Time]*store.AuditPartition{}
	kept := s.audit[:0]
	for _, e := range s.audit {
		from := monthOf(e.Time)
		to := from.AddDate(0, 1, 0)
		if to.After(p.KeepSince) {
			kept = append(kept, e)
			continue
		}
		d := dropped[from]
		if d == nil {
			d = &store.AuditPartition{Name: "audit_events_" + from.Format("2006_01"), From: from, To: to}
			dropped[from] = d
		}
		d.Rows++
	}
	clear(s.audit[len(kept):])
	s.audit = kept
	for _, d := range sortedMonths(dropped) {
		e := &store.AuditEvent{
			Time: p.Now, Action: store.ActionAuditPartitionDrop,
			ActorKind: store.RetentionActorKind, ActorSubject: store.RetentionActorSubject,
			Result: "ok", Reason: fmt.Sprintf("dropped partition %s holding %d events from [%s, %s)",
				d.Name, d.Rows, d.From.Format(time.RFC3339), d.To.Format(time.RFC3339)),
		}
		e.ID = s.appendAudit(e, p.Now)
		e.Time = ts(p.Now)
		d.Event = e
		res.Dropped = append(res.Dropped, *d)
	}
	return res, nil
}

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func sortedMonths(m map[time.Time]*store.AuditPartition) []*store.AuditPartition {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b *store.AuditPartition) int { return a.From.Compare(b.From) })
	return out
}
