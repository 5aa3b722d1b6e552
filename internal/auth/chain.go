package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// Chain asks its authenticators in turn: first with the bearer alone, then
// with the client certificate alone. The first answer other than
// ErrNoCredentials wins.
//
// A bearer that no authenticator recognises is rejected outright rather
// than falling through to the certificate: a caller that sent a token
// expects to be that token, and silently becoming its certificate instead
// would hide misconfiguration.
type Chain struct {
	authns []Authenticator
	admins map[string]bool
}

var _ Authenticator = (*Chain)(nil)

// NewChain returns a Chain over authns. admins lists owners
// ("<kind>:<subject>") that get the Admin flag whichever authenticator
// vouched for them.
func NewChain(admins []string, authns ...Authenticator) *Chain {
	return &Chain{authns: authns, admins: ownerSet(admins)}
}

// Authenticate implements Authenticator.
func (c *Chain) Authenticate(ctx context.Context, cr Credentials) (*Identity, error) {
	if cr.Bearer != "" {
		id, err := c.first(ctx, Credentials{Bearer: cr.Bearer})
		if errors.Is(err, ErrNoCredentials) {
			return nil, fmt.Errorf("bearer token not recognised: %w", errs.Unauthenticated)
		}
		return id, err
	}
	if len(cr.PeerCertificates) > 0 {
		id, err := c.first(ctx, Credentials{PeerCertificates: cr.PeerCertificates})
		if errors.Is(err, ErrNoCredentials) {
			return nil, fmt.Errorf("client certificate not accepted: %w", errs.Unauthenticated)
		}
		return id, err
	}
	return nil, fmt.Errorf("%w: %w", errNoCredentials, errs.Unauthenticated)
}

func (c *Chain) first(ctx context.Context, cr Credentials) (*Identity, error) {
	for _, a := range c.authns {
		id, err := a.Authenticate(ctx, cr)
		if errors.Is(err, ErrNoCredentials) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if id == nil {
			return nil, fmt.Errorf("authenticator returned no identity: %w", errs.Unauthenticated)
		}
		if c.admins[id.Principal()] {
			id.Admin = true
		}
		return id, nil
	}
	return nil, ErrNoCredentials
}
