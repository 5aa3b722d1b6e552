package auth

import (
	"context"
	"crypto/x509"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// DefaultExemptMethods are the full-method prefixes served without
// authentication: health checks (probes carry no credentials) and server
// reflection.
func DefaultExemptMethods() []string {
	return []string{
		"/grpc.health.v1.Health/",
		"/grpc.reflection.v1.ServerReflection/",
		"/grpc.reflection.v1alpha.ServerReflection/",
	}
}

// GRPCOptions configure the gRPC interceptors.
type GRPCOptions struct {
	// ExemptMethods are full-method prefixes ("/pkg.Service/" or
	// "/pkg.Service/Method") that skip authentication. Nil means
	// DefaultExemptMethods; an empty non-nil slice exempts nothing.
	ExemptMethods []string
	// Logger receives the real reason for each rejection at debug level;
	// OnFailure counts them. Either may be nil.
	Logger    *slog.Logger
	OnFailure func(reason FailureReason)
}

type grpcGuard struct {
	authn   Authenticator
	exempt  []string
	log     *slog.Logger
	failure func(FailureReason)
}

func newGRPCGuard(a Authenticator, o GRPCOptions) *grpcGuard {
	g := &grpcGuard{authn: a, exempt: o.ExemptMethods, log: o.Logger, failure: o.OnFailure}
	if g.exempt == nil {
		g.exempt = DefaultExemptMethods()
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	return g
}

// UnaryServerInterceptor authenticates every unary call not exempted and
// puts the Identity in the handler's context.
func UnaryServerInterceptor(a Authenticator, o GRPCOptions) grpc.UnaryServerInterceptor {
	g := newGRPCGuard(a, o)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := g.authenticate(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is the streaming counterpart of
// UnaryServerInterceptor.
func StreamServerInterceptor(a Authenticator, o GRPCOptions) grpc.StreamServerInterceptor {
	g := newGRPCGuard(a, o)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := g.authenticate(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &identityStream{ServerStream: ss, ctx: ctx})
	}
}

func (g *grpcGuard) authenticate(ctx context.Context, method string) (context.Context, error) {
	for _, p := range g.exempt {
		if strings.HasPrefix(method, p) {
			return ctx, nil
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	bearer, err := bearerFrom(md.Get("authorization"))
	if err == nil {
		var id *Identity
		id, err = g.authn.Authenticate(ctx, Credentials{Bearer: bearer, PeerCertificates: peerChain(ctx)})
		if err == nil {
			if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
				ctx = WithPeerAddr(ctx, hostOf(p.Addr.String()))
			}
			return WithIdentity(ctx, id), nil
		}
	}
	reason := failureOf(err)
	g.log.LogAttrs(ctx, slog.LevelDebug, "authentication failed",
		slog.String("method", method), slog.String("reason", string(reason)), slog.String("error", err.Error()))
	if g.failure != nil {
		g.failure(reason)
	}
	if unavailable(err) {
		return nil, status.Error(codes.Unavailable, msgUnavailable)
	}
	return nil, status.Error(codes.Unauthenticated, msgUnauthenticated)
}

// peerChain returns the verified client chain, leaf first. Certificates
// the TLS layer merely received but did not verify are ignored.
func peerChain(ctx context.Context) []*x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 {
		return nil
	}
	return ti.State.VerifiedChains[0]
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }
