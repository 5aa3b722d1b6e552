package broker

import (
	"context"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/store"
)

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// GetLease returns one lease the caller may see.
func (s *Service) GetLease(ctx context.Context, req *ztbrokerv1.GetLeaseRequest) (*ztbrokerv1.GetLeaseResponse, error) {
	_, l, _, err := s.admittedLease(ctx, "read", req.GetId())
	if err != nil {
		return nil, s.toStatus(ctx, "GetLease", err)
	}
	return &ztbrokerv1.GetLeaseResponse{Lease: leaseToProto(l)}, nil
}

// ListLeases pages through the caller's leases.
func (s *Service) ListLeases(ctx context.Context, req *ztbrokerv1.ListLeasesRequest) (*ztbrokerv1.ListLeasesResponse, error) {
	resp, err := s.listLeases(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, "ListLeases", err)
	}
	return resp, nil
}

func (s *Service) listLeases(ctx context.Context, req *ztbrokerv1.ListLeasesRequest) (*ztbrokerv1.ListLeasesResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	state, ok := stateFromProto(req.GetState())
	if !ok {
		return nil, invalid("unknown state %d", req.GetState())
	}
	key, val, err := parseLabel(req.GetLabel())
	if err != nil {
		return nil, err
	}
	if err := validateText("page_token", req.GetPageToken(), 512); err != nil {
		return nil, err
	}
	if err := validateText("purpose", req.GetPurpose(), maxFilterLen); err != nil {
		return nil, err
	}
	res, err := s.cfg.Store.ListLeases(ctx, store.ListLeasesParams{
		Owner:    ownerScope(id),
		Purpose:  req.GetPurpose(),
		State:    state,
		LabelKey: key,
		LabelVal: val,
		PageSize: size,
		After:    req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	out := &ztbrokerv1.ListLeasesResponse{NextPageToken: res.Next}
	for _, l := range res.Leases {
		out.Leases = append(out.Leases, leaseToProto(l))
	}
	return out, nil
}

func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, invalid("page_size must not be negative")
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return int(n), nil
}
