package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
)

// Rotator rotates an upstream's admin key; the adminkey worker is one.
type Rotator interface {
	// Rotate returns once the new key is in use, or an error: errs.NotFound
	// for an unknown upstream, errs.FailedPrecondition when it cannot
	// rotate, errs.Conflict while a rotation is in progress.
	Rotate(ctx context.Context, upstream, requestedBy, reason string) (*store.Rotation, error)
}

// CredentialStatus is what the broker knows of an upstream's admin
// credential, never the credential itself.
type CredentialStatus struct {
	Upstream, Kind, KeyID, Account, Source, Warning string
	Expires                                         time.Time
}

// ActionAdminRotate audits an operator's rotation request; the rotation
// itself writes its own events.
const ActionAdminRotate = "admin_rotate_upstream_key"

const maxUpstreamNameLen = 64

// RotateUpstreamKey rotates an upstream's admin key on an operator's
// request.
func (s *Service) RotateUpstreamKey(ctx context.Context, req *ztbrokerv1.RotateUpstreamKeyRequest) (*ztbrokerv1.RotateUpstreamKeyResponse, error) {
	resp, err := s.rotateUpstreamKey(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, "RotateUpstreamKey", err)
	}
	return resp, nil
}

func (s *Service) rotateUpstreamKey(ctx context.Context, req *ztbrokerv1.RotateUpstreamKeyRequest) (*ztbrokerv1.RotateUpstreamKeyResponse, error) {
	id, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetUpstream() == "" {
		return nil, invalid("upstream is required")
	}
	if err := validateText("upstream", req.GetUpstream(), maxUpstreamNameLen); err != nil {
		return nil, err
	}
	if err := validateText("reason", req.GetReason(), maxReasonLen); err != nil {
		return nil, err
	}
	if s.cfg.Rotator == nil {
		return nil, errs.Public(errs.FailedPrecondition, "admin key rotation is not available on this broker")
	}
	reason := req.GetReason()
	if reason == "" {
		reason = "requested by " + id.Owner()
	}
	// The rotation must not stop half way because the caller hung up.
	r, err := s.cfg.Rotator.Rotate(context.WithoutCancel(ctx), req.GetUpstream(), id.Owner(), reason)
	result := "ok"
	if err != nil {
		result = "error"
	}
	ev := s.event(id, ActionAdminRotate, "", "", result, fmt.Sprintf("upstream %s: %s", req.GetUpstream(), reason))
	if !errors.Is(err, errs.NotFound) {
		// Filed under the upstream it concerns, so that an audit filtered
		// by upstream shows who asked; a name no upstream has stays in the
		// reason only.
		ev.Upstream = req.GetUpstream()
	}
	s.appendAudit(ctx, ev)
	if err != nil {
		return nil, err
	}
	return &ztbrokerv1.RotateUpstreamKeyResponse{Rotation: rotationToProto(r)}, nil
}

// ListUpstreams reports each upstream's admin credential.
func (s *Service) ListUpstreams(ctx context.Context, _ *ztbrokerv1.ListUpstreamsRequest) (*ztbrokerv1.ListUpstreamsResponse, error) {
	if _, err := admin(ctx); err != nil {
		return nil, s.toStatus(ctx, "ListUpstreams", err)
	}
	out := &ztbrokerv1.ListUpstreamsResponse{}
	if s.cfg.Credentials == nil {
		return out, nil
	}
	for _, c := range s.cfg.Credentials() {
		u := &ztbrokerv1.UpstreamCredential{
			Upstream: c.Upstream, Kind: c.Kind, KeyId: c.KeyID, Account: c.Account, Source: c.Source, Warning: c.Warning,
		}
		if !c.Expires.IsZero() {
			u.ExpireTime = timestamppb.New(c.Expires)
		}
		out.Upstreams = append(out.Upstreams, u)
	}
	return out, nil
}

func rotationToProto(r *store.Rotation) *ztbrokerv1.UpstreamKeyRotation {
	if r == nil {
		return nil
	}
	out := &ztbrokerv1.UpstreamKeyRotation{
		Id: r.ID, Upstream: r.Upstream, State: string(r.State), OldKeyId: r.OldKeyID, NewKeyId: r.NewKeyID,
		RequestedBy: r.RequestedBy, StartTime: timestamppb.New(r.StartedAt),
	}
	if !r.NewExpires.IsZero() {
		out.NewKeyExpireTime = timestamppb.New(r.NewExpires)
	}
	if !r.RetireAfter.IsZero() {
		out.OldKeyDeleteTime = timestamppb.New(r.RetireAfter)
	}
	return out
}
