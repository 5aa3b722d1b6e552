package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"iter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// IssueRequest asks for a token.
type IssueRequest struct {
	// Purpose names the broker purpose the token is for. Required.
	Purpose string
	// TTL is how long the lease should last; zero means the purpose's
	// default. More than the purpose's maximum is refused.
	TTL time.Duration
	// Labels are attached to the lease, for listing and bulk revocation.
	Labels map[string]string
	// IdempotencyKey makes a repeated request return the lease the first
	// one created instead of minting another token. Empty means a random
	// key for this call, which still makes the call's own retries safe.
	IdempotencyKey string
}

// Issue asks the broker for a token. Failures the broker says are
// temporary are retried, with the same idempotency key, within ctx's
// deadline (or the client's timeout when ctx has none).
func (c *Client) Issue(ctx context.Context, r IssueRequest) (*Token, error) {
	if r.Purpose == "" {
		return nil, errors.New("ztbroker client: issue: the purpose is required")
	}
	if r.TTL < 0 {
		return nil, errors.New("ztbroker client: issue: the TTL must not be negative")
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.issue(ctx, issueRequest(r))
}

func issueRequest(r IssueRequest) *ztbrokerv1.IssueTokenRequest {
	req := &ztbrokerv1.IssueTokenRequest{Purpose: r.Purpose, Labels: r.Labels, IdempotencyKey: r.IdempotencyKey}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = newIdempotencyKey()
	}
	if r.TTL > 0 {
		req.Ttl = durationpb.New(r.TTL)
	}
	return req
}

func (c *Client) issue(ctx context.Context, req *ztbrokerv1.IssueTokenRequest, opts ...grpc.CallOption) (*Token, error) {
	resp, err := c.broker.IssueToken(ctx, req, opts...)
	if err != nil {
		return nil, fmt.Errorf("issue token for purpose %q: %w", req.GetPurpose(), err)
	}
	l := leaseFromProto(resp.GetLease())
	switch {
	case resp.GetToken() == "" || l == nil:
		return nil, fmt.Errorf("issue token for purpose %q: the broker returned no token", req.GetPurpose())
	case l.State != StateActive:
		return nil, fmt.Errorf("issue token for purpose %q: the broker returned lease %s in state %s",
			req.GetPurpose(), l.ID, l.State)
	}
	return &Token{
		Value:      resp.GetToken(),
		Scheme:     resp.GetAuthScheme(),
		APIBaseURL: resp.GetApiBaseUrl(),
		Lease:      *l,
		Replayed:   resp.GetReplayed(),
	}, nil
}

// Renew extends lease id to ttl from now (zero means the purpose's
// default), never past its MaxExpireTime. It returns the lease as renewed.
func (c *Client) Renew(ctx context.Context, id string, ttl time.Duration) (*Lease, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.renew(ctx, id, ttl)
}

func (c *Client) renew(ctx context.Context, id string, ttl time.Duration, opts ...grpc.CallOption) (*Lease, error) {
	req := &ztbrokerv1.RenewLeaseRequest{Id: id}
	if ttl > 0 {
		req.Ttl = durationpb.New(ttl)
	}
	resp, err := c.broker.RenewLease(ctx, req, opts...)
	if err != nil {
		return nil, fmt.Errorf("renew lease %s: %w", id, err)
	}
	return leaseFromProto(resp.GetLease()), nil
}

// Revoke ends lease id and deletes its token upstream, recording reason.
// Revoking a lease that has already ended is not an error: alreadyEnded
// says so.
func (c *Client) Revoke(ctx context.Context, id, reason string) (lease *Lease, alreadyEnded bool, err error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	resp, err := c.broker.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: reason})
	if err != nil {
		return nil, false, fmt.Errorf("revoke lease %s: %w", id, err)
	}
	return leaseFromProto(resp.GetLease()), resp.GetAlreadyRevoked(), nil
}

// Get returns lease id. Someone else's lease is NOT_FOUND, unless the
// caller is an admin.
func (c *Client) Get(ctx context.Context, id string) (*Lease, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	resp, err := c.broker.GetLease(ctx, &ztbrokerv1.GetLeaseRequest{Id: id})
	if err != nil {
		return nil, fmt.Errorf("get lease %s: %w", id, err)
	}
	return leaseFromProto(resp.GetLease()), nil
}

// ListRequest filters List. The zero value lists every lease the caller
// may see.
type ListRequest struct {
	Purpose string
	State   State
	// Label is "key=value".
	Label string
	// PageSize is how many leases each call fetches; zero means the
	// broker's default.
	PageSize int
}

// List yields the caller's leases (every lease, for an admin) matching r,
// fetching pages as the loop goes on. Each page is one call, bounded by
// ctx's deadline or else the client's timeout. A failure is yielded once,
// as the last element.
func (c *Client) List(ctx context.Context, r ListRequest) iter.Seq2[*Lease, error] {
	return func(yield func(*Lease, error) bool) {
		st, ok := stateToProto(r.State)
		if !ok {
			yield(nil, fmt.Errorf("ztbroker client: list leases: unknown state %q", r.State))
			return
		}
		req := &ztbrokerv1.ListLeasesRequest{PageSize: int32(r.PageSize), Purpose: r.Purpose, State: st, Label: r.Label}
		for {
			resp, err := c.listPage(ctx, req)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, l := range resp.GetLeases() {
				if !yield(leaseFromProto(l), nil) {
					return
				}
			}
			if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
				return
			}
		}
	}
}

func (c *Client) listPage(ctx context.Context, req *ztbrokerv1.ListLeasesRequest) (*ztbrokerv1.ListLeasesResponse, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	resp, err := c.broker.ListLeases(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	return resp, nil
}

// newIdempotencyKey is a key no other issue uses.
func newIdempotencyKey() string { return "go-" + rand.Text() }
