package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
)

// Identity kinds.
const (
	KindAPIKey = "api_key"
	KindMTLS   = "mtls"
	KindOIDC   = "oidc"
)

// Identity is who a caller is, however they proved it.
type Identity struct {
	// Kind is one of the Kind constants.
	Kind string
	// Subject is the API key's name, the SPIFFE ID or CN, or the JWT sub.
	Subject string
	// Claims are the verified token claims (OIDC) or certificate facts
	// (mTLS). Empty for API keys.
	Claims map[string]any
	// Admin is set for identities configured as admins.
	Admin bool
	// LeaseOwner, when set, owns the caller's leases instead of the
	// principal: an OIDC issuer whose owner claims are more than sub sets
	// it, so that callers sharing a sub (every workflow of a GitHub
	// branch) do not share leases and idempotency keys.
	LeaseOwner string
	// OwnerClaims are the claim values LeaseOwner was built from, kept on
	// each lease so its owner can be read back.
	OwnerClaims map[string]string
}

// Principal is who the caller is, "<kind>:<subject>": what auth.admins and
// a purpose's allow.subjects name.
func (i *Identity) Principal() string { return i.Kind + ":" + i.Subject }

// Owner is the string recorded on leases and that scopes their access and
// idempotency keys: LeaseOwner when the authenticator set one, else the
// principal.
func (i *Identity) Owner() string {
	if i.LeaseOwner != "" {
		return i.LeaseOwner
	}
	return i.Principal()
}

// Credentials are what a caller presented on one request.
type Credentials struct {
	// Bearer is the token after "Bearer " in the authorization header or
	// metadata, or empty.
	Bearer string
	// PeerCertificates is the verified client certificate chain, leaf
	// first, or nil.
	PeerCertificates []*x509.Certificate
}

var (
	// ErrNoCredentials means the authenticator does not handle what was
	// presented, so the next one should try.
	ErrNoCredentials = errors.New("no credentials for this authenticator")
)

// Authenticator verifies one kind of credential. It returns
// ErrNoCredentials when the credentials are not its kind, and an error
// wrapping errs.Unauthenticated when they are its kind but invalid.
type Authenticator interface {
	Authenticate(ctx context.Context, c Credentials) (*Identity, error)
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the caller identity placed by the interceptor or
// middleware, or nil.
func FromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

type peerKey struct{}

// WithPeerAddr returns ctx carrying the caller's network address (its
// host, without the port), for limits kept per source address.
func WithPeerAddr(ctx context.Context, host string) context.Context {
	return context.WithValue(ctx, peerKey{}, host)
}

// PeerAddr returns the host WithPeerAddr stored, or "".
func PeerAddr(ctx context.Context) string {
	h, _ := ctx.Value(peerKey{}).(string)
	return h
}

// hostOf drops the port of a host:port address.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
