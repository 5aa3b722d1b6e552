package auth_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
)

func testChain() auth.Authenticator {
	return auth.NewChain(nil,
		&fakeAuthn{bearer: "down", kind: auth.KindOIDC, err: errs.Unavailable},
		&fakeAuthn{bearer: "tok", kind: auth.KindOIDC},
		&fakeAuthn{certCN: "svc", kind: auth.KindMTLS},
	)
}

func tlsPeer(ctx context.Context, verified [][]*x509.Certificate, received []*x509.Certificate) context.Context {
	return peer.NewContext(ctx, &peer.Peer{
		Addr: &net.TCPAddr{},
		AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{
			VerifiedChains:   verified,
			PeerCertificates: received,
		}},
	})
}

func TestUnaryServerInterceptor(t *testing.T) {
	t.Parallel()
	const method = "/ztbroker.v1.LeaseService/IssueLease"
	tests := []struct {
		name     string
		method   string
		md       metadata.MD
		peerCtx  func(context.Context) context.Context
		wantCode codes.Code
		wantID   *auth.Identity
		// wantReason is what a failure is counted as.
		wantReason auth.FailureReason
	}{
		{name: "bearer", md: metadata.Pairs("authorization", "Bearer tok"),
			wantID: &auth.Identity{Kind: auth.KindOIDC, Subject: "bearer-user"}},
		{name: "scheme is case-insensitive", md: metadata.Pairs("authorization", "bearer tok"),
			wantID: &auth.Identity{Kind: auth.KindOIDC, Subject: "bearer-user"}},
		{name: "verified cert", peerCtx: func(ctx context.Context) context.Context {
			return tlsPeer(ctx, [][]*x509.Certificate{leaf("svc")}, leaf("svc"))
		}, wantID: &auth.Identity{Kind: auth.KindMTLS, Subject: "svc"}},
		{name: "unverified cert ignored", peerCtx: func(ctx context.Context) context.Context {
			return tlsPeer(ctx, nil, leaf("svc"))
		}, wantCode: codes.Unauthenticated, wantReason: auth.FailureMissing},
		{name: "wrong bearer", md: metadata.Pairs("authorization", "Bearer nope"), wantCode: codes.Unauthenticated, wantReason: auth.FailureInvalid},
		{name: "basic scheme", md: metadata.Pairs("authorization", "Basic dG9r"), wantCode: codes.Unauthenticated, wantReason: auth.FailureInvalid},
		{name: "two authorization values", md: metadata.Pairs("authorization", "Bearer tok", "authorization", "Bearer tok"),
			wantCode: codes.Unauthenticated, wantReason: auth.FailureInvalid},
		{name: "empty bearer", md: metadata.Pairs("authorization", "Bearer "), wantCode: codes.Unauthenticated, wantReason: auth.FailureInvalid},
		{name: "oversized bearer", md: metadata.Pairs("authorization", "Bearer "+strings.Repeat("a", 17<<10)),
			wantCode: codes.Unauthenticated, wantReason: auth.FailureInvalid},
		{name: "nothing", wantCode: codes.Unauthenticated, wantReason: auth.FailureMissing},
		{name: "issuer down", md: metadata.Pairs("authorization", "Bearer down"), wantCode: codes.Unavailable, wantReason: auth.FailureUnavailable},
		{name: "health exempt", method: "/grpc.health.v1.Health/Check"},
		{name: "reflection exempt", method: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			var reasons []auth.FailureReason
			icpt := auth.UnaryServerInterceptor(testChain(), auth.GRPCOptions{
				Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				OnFailure: func(r auth.FailureReason) { reasons = append(reasons, r) },
			})
			ctx := metadata.NewIncomingContext(context.Background(), tt.md)
			if tt.peerCtx != nil {
				ctx = tt.peerCtx(ctx)
			}
			m := method
			if tt.method != "" {
				m = tt.method
			}
			var gotID *auth.Identity
			called := false
			_, err := icpt(ctx, nil, &grpc.UnaryServerInfo{FullMethod: m}, func(ctx context.Context, _ any) (any, error) {
				called = true
				gotID = auth.FromContext(ctx)
				return nil, nil
			})
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code = %v, want %v (err %v)", got, tt.wantCode, err)
			}
			if called != (tt.wantCode == codes.OK) {
				t.Fatalf("handler called = %v", called)
			}
			if diff := cmp.Diff(tt.wantID, gotID); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if err != nil {
				if msg := status.Convert(err).Message(); msg != "missing or invalid credentials" && msg != "authentication temporarily unavailable" {
					t.Errorf("message %q is not one of the fixed messages", msg)
				}
				// One line per failure at debug, never warn: a flood of
				// bad credentials must not flood the log.
				if !strings.Contains(logs.String(), "level=DEBUG msg=\"authentication failed\"") || strings.Contains(logs.String(), "level=WARN") {
					t.Errorf("rejection not logged at debug: %q", logs.String())
				}
			}
			if (err != nil) != (len(reasons) == 1) || (err != nil && reasons[0] != tt.wantReason) {
				t.Errorf("failures counted %v, want [%s]", reasons, tt.wantReason)
			}
			if strings.Contains(logs.String(), "nope") {
				t.Errorf("log carries the presented bearer: %q", logs.String())
			}
		})
	}
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *fakeStream) Context() context.Context { return s.ctx }

func TestStreamServerInterceptor(t *testing.T) {
	t.Parallel()
	icpt := auth.StreamServerInterceptor(testChain(), auth.GRPCOptions{ExemptMethods: []string{}})
	tests := []struct {
		name     string
		md       metadata.MD
		wantCode codes.Code
		wantID   *auth.Identity
		// wantReason is what a failure is counted as.
		wantReason auth.FailureReason
	}{
		{name: "bearer", md: metadata.Pairs("authorization", "Bearer tok"),
			wantID: &auth.Identity{Kind: auth.KindOIDC, Subject: "bearer-user"}},
		{name: "nothing", wantCode: codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ss := &fakeStream{ctx: metadata.NewIncomingContext(context.Background(), tt.md)}
			var gotID *auth.Identity
			err := icpt(nil, ss, &grpc.StreamServerInfo{FullMethod: "/grpc.health.v1.Health/Watch"}, func(_ any, s grpc.ServerStream) error {
				gotID = auth.FromContext(s.Context())
				return nil
			})
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code = %v, want %v", got, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantID, gotID); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}
