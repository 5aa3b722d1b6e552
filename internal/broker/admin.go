package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

const (
	defaultRevokeBatch = 500
	maxRevokeBatch     = 5000
	maxSampleIDs       = 100
)

func admin(ctx context.Context) (*auth.Identity, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !id.Admin {
		return nil, errs.Public(errs.PermissionDenied, fmt.Sprintf("caller %q does not have the admin role", id.Owner()))
	}
	return id, nil
}

// RevokeLeases revokes, one batch per call, every active lease matching a
// filter. The worker performs the upstream deletes; callers loop while
// Remaining is non-zero and watch progress.
func (s *Service) RevokeLeases(ctx context.Context, req *ztbrokerv1.RevokeLeasesRequest) (*ztbrokerv1.RevokeLeasesResponse, error) {
	resp, err := s.revokeLeases(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, "RevokeLeases", err)
	}
	return resp, nil
}

func (s *Service) revokeLeases(ctx context.Context, req *ztbrokerv1.RevokeLeasesRequest) (*ztbrokerv1.RevokeLeasesResponse, error) {
	id, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	f := req.GetFilter()
	key, val, err := parseLabel(f.GetLabel())
	if err != nil {
		return nil, err
	}
	filter := store.LeaseFilter{Purpose: f.GetPurpose(), Owner: f.GetOwner(), LabelKey: key, LabelVal: val, All: f.GetAll()}
	if !filter.All && filter.Purpose == "" && filter.Owner == "" && filter.LabelKey == "" {
		return nil, invalid("filter needs a purpose, owner or label, or all=true")
	}
	if filter.All && (filter.Purpose != "" || filter.Owner != "" || filter.LabelKey != "") {
		return nil, invalid("all=true cannot be combined with other filters")
	}
	batch := int(req.GetBatchSize())
	switch {
	case batch < 0:
		return nil, invalid("batch_size must not be negative")
	case batch == 0:
		batch = defaultRevokeBatch
	case batch > maxRevokeBatch:
		batch = maxRevokeBatch
	}
	if err := validateReason(req.GetReason()); err != nil {
		return nil, err
	}
	if err := validateFilters([2]string{"filter.purpose", f.GetPurpose()}, [2]string{"filter.owner", f.GetOwner()}); err != nil {
		return nil, err
	}
	reason := req.GetReason()
	if reason == "" {
		reason = "bulk revoke by " + id.Owner()
	}
	now := s.now().UTC()
	res, err := s.cfg.Store.RevokeMatching(ctx, store.RevokeMatchingParams{
		Filter: filter, Reason: reason, RevokedBy: id.Owner(), Now: now, Limit: batch, DryRun: req.GetDryRun(),
	})
	if err != nil {
		return nil, err
	}
	result := "ok"
	if req.GetDryRun() {
		result = "dry_run"
	} else if res.Done > 0 {
		s.cfg.Revoker.Nudge(now)
	}
	s.appendAudit(ctx, s.event(id, ActionAdminRevoke, filter.Purpose, "", result,
		fmt.Sprintf("%s; filter purpose=%q owner=%q label=%q all=%t; done=%d remaining=%d",
			reason, filter.Purpose, filter.Owner, f.GetLabel(), filter.All, res.Done, res.Remaining)))
	ids := res.IDs
	if len(ids) > maxSampleIDs {
		ids = ids[:maxSampleIDs]
	}
	return &ztbrokerv1.RevokeLeasesResponse{Done: int64(res.Done), Remaining: int64(res.Remaining), SampleIds: ids}, nil
}

// ForgetLease gives up on revoking a lease's upstream token. It is for
// tokens an operator has removed by other means; who and why are kept.
func (s *Service) ForgetLease(ctx context.Context, req *ztbrokerv1.ForgetLeaseRequest) (*ztbrokerv1.ForgetLeaseResponse, error) {
	l, err := s.forget(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, "ForgetLease", err)
	}
	return &ztbrokerv1.ForgetLeaseResponse{Lease: leaseToProto(l)}, nil
}

func (s *Service) forget(ctx context.Context, req *ztbrokerv1.ForgetLeaseRequest) (*lease.Lease, error) {
	id, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	if err := validID(req.GetId()); err != nil {
		return nil, err
	}
	if req.GetReason() == "" {
		return nil, invalid("reason is required: say why the upstream token needs no revocation")
	}
	if err := validateReason(req.GetReason()); err != nil {
		return nil, err
	}
	ev := s.event(id, ActionAdminForget, "", req.GetId(), "ok", req.GetReason())
	l, err := s.cfg.Store.ForgetLease(ctx, store.ForgetLeaseParams{
		ID: req.GetId(), Reason: req.GetReason(), RevokedBy: id.Owner(), Now: s.now().UTC(), Audit: ev,
	})
	switch {
	case errors.Is(err, errs.NotFound):
		return nil, errs.Public(errs.NotFound, fmt.Sprintf("lease %q not found", req.GetId()))
	case errors.Is(err, errs.FailedPrecondition), errors.Is(err, errs.Conflict):
		return nil, errs.Public(errs.FailedPrecondition, fmt.Sprintf("lease %q is not revoking or revoke_failed", req.GetId()))
	case err != nil:
		return nil, err
	}
	return l, nil
}

// ListAuditEvents pages through the audit trail.
func (s *Service) ListAuditEvents(ctx context.Context, req *ztbrokerv1.ListAuditEventsRequest) (*ztbrokerv1.ListAuditEventsResponse, error) {
	resp, err := s.listAudit(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, "ListAuditEvents", err)
	}
	return resp, nil
}

func (s *Service) listAudit(ctx context.Context, req *ztbrokerv1.ListAuditEventsRequest) (*ztbrokerv1.ListAuditEventsResponse, error) {
	id, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	if err := validateFilters([2]string{"purpose", req.GetPurpose()}, [2]string{"lease_id", req.GetLeaseId()},
		[2]string{"actor", req.GetActor()}, [2]string{"action", req.GetAction()}, [2]string{"upstream", req.GetUpstream()},
		[2]string{"page_token", req.GetPageToken()}); err != nil {
		return nil, err
	}
	var since time.Time
	if t := req.GetSince(); t != nil {
		if err := t.CheckValid(); err != nil {
			return nil, invalid("since is not a valid timestamp")
		}
		since = t.AsTime()
	}
	res, err := s.cfg.Store.ListAudit(ctx, store.ListAuditParams{
		Purpose: req.GetPurpose(), LeaseID: req.GetLeaseId(), Actor: req.GetActor(), Action: req.GetAction(),
		Upstream: req.GetUpstream(), Since: since, PageSize: size, After: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	s.appendAudit(ctx, s.event(id, ActionAdminAudit, req.GetPurpose(), req.GetLeaseId(), "ok", ""))
	out := &ztbrokerv1.ListAuditEventsResponse{NextPageToken: res.Next}
	for _, e := range res.Events {
		out.Events = append(out.Events, auditToProto(e))
	}
	return out, nil
}
