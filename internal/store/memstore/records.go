package memstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func (s *Store) ListUpstreamTokens(_ context.Context, p store.ListUpstreamTokensParams) ([]*lease.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*lease.Lease
	for _, l := range s.leases {
		if l.State.Live() && !l.IsProxy() && l.Upstream == p.Upstream && l.UpstreamAccount == p.UpstreamAccount {
			out = append(out, clone(l))
		}
	}
	sortByID(out)
	return out, nil
}

func (s *Store) CountActive(context.Context) (map[string]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, l := range s.leases {
		if l.State == lease.StateActive {
			out[l.Purpose]++
		}
	}
	return out, nil
}

func (s *Store) SealedSecret(_ context.Context, p store.SealedSecretParams) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[p.ID]
	l := s.leases[p.ID]
	if !ok || l == nil || l.State != lease.StateActive || !sec.until.After(ts(p.Now)) {
		return nil, fmt.Errorf("memstore: sealed secret for %s: %w", p.ID, errs.NotFound)
	}
	return append([]byte(nil), sec.data...), nil
}

func (s *Store) EraseSealedSecrets(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now = ts(now)
	n := 0
	for id, sec := range s.secrets {
		if l := s.leases[id]; !sec.until.After(now) || l == nil || l.State != lease.StateActive {
			delete(s.secrets, id)
			n++
		}
	}
	return n, nil
}

func (s *Store) AppendAudit(_ context.Context, e *store.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.ID = s.appendAudit(e, e.Time)
	return nil
}

func (s *Store) AppendAudits(_ context.Context, events []*store.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		e.ID = s.appendAudit(e, e.Time)
	}
	return nil
}

func (s *Store) ListAudit(_ context.Context, p store.ListAuditParams) (*store.ListAuditResult, error) {
	if err := requireLimit(p.PageSize); err != nil {
		return nil, err
	}
	var kind, subject string
	if p.Actor != "" {
		var ok bool
		if kind, subject, ok = strings.Cut(p.Actor, ":"); !ok {
			return nil, fmt.Errorf("memstore: audit actor filter %q: %w", p.Actor, errs.InvalidArgument)
		}
	}
	before := int64(-1)
	if p.After != "" {
		c, err := decodeCursor(p.After)
		if err != nil {
			return nil, err
		}
		if before, err = strconv.ParseInt(c, 10, 64); err != nil || before < 1 {
			return nil, fmt.Errorf("memstore: audit page cursor: %w", errs.InvalidArgument)
		}
	}
	since := ts(p.Since)
	s.mu.Lock()
	defer s.mu.Unlock()
	res := &store.ListAuditResult{}
	for i := len(s.audit) - 1; i >= 0; i-- {
		e := s.audit[i]
		if (before > 0 && e.ID >= before) ||
			(p.Purpose != "" && e.Purpose != p.Purpose) ||
			(p.LeaseID != "" && e.LeaseID != p.LeaseID) ||
			(p.Actor != "" && (e.ActorKind != kind || e.ActorSubject != subject)) ||
			(p.Action != "" && e.Action != p.Action) ||
			(p.Upstream != "" && e.Upstream != p.Upstream) ||
			(!since.IsZero() && e.Time.Before(since)) {
			continue
		}
		if len(res.Events) == p.PageSize {
			res.Next = encodeCursor(strconv.FormatInt(res.Events[len(res.Events)-1].ID, 10))
			break
		}
		c := *e
		c.ActorClaims = cloneLabels(e.ActorClaims)
		res.Events = append(res.Events, &c)
	}
	return res, nil
}
