package broker

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// ListPurposes lists what the caller may request; admins see everything.
func (s *Service) ListPurposes(ctx context.Context, _ *ztbrokerv1.ListPurposesRequest) (*ztbrokerv1.ListPurposesResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "ListPurposes", err)
	}
	out := &ztbrokerv1.ListPurposesResponse{}
	for _, p := range s.cfg.Purposes.All() {
		if !id.Admin && !p.Policy.Decide(id).Allowed {
			continue
		}
		out.Purposes = append(out.Purposes, &ztbrokerv1.Purpose{
			Name:         p.Name,
			Description:  p.Description,
			DefaultTtl:   durationpb.New(p.DefaultTTL),
			MaxTtl:       durationpb.New(p.MaxTTL),
			Upstream:     p.Issuer.Upstream(),
			UpstreamKind: p.Issuer.Kind(),
			Delivery:     p.delivery(),
		})
	}
	return out, nil
}

// WhoAmI reports the caller's identity as the broker sees it.
func (s *Service) WhoAmI(ctx context.Context, _ *ztbrokerv1.WhoAmIRequest) (*ztbrokerv1.WhoAmIResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "WhoAmI", err)
	}
	resp := &ztbrokerv1.WhoAmIResponse{
		Kind:    id.Kind,
		Subject: id.Subject,
		Owner:   id.Owner(),
		Admin:   id.Admin,
	}
	if len(id.Claims) > 0 {
		resp.Claims = make(map[string]string, len(id.Claims))
		for k, v := range id.Claims {
			resp.Claims[k] = fmt.Sprint(v)
		}
	}
	return resp, nil
}
