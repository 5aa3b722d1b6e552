package server

import (
	"crypto/tls"
	"log/slog"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/panics"
)

type grpcDeps struct {
	service *broker.Service
	authn   auth.Authenticator
	tls     *tls.Config
	log     *slog.Logger
	health  *health.Server
	tracer  trace.TracerProvider
	panics  *panics.Policy
}

func newGRPCServer(d grpcDeps) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			d.panics.UnaryServerInterceptor(),
			auth.UnaryServerInterceptor(d.authn, auth.GRPCOptions{Logger: d.log}),
		),
		grpc.ChainStreamInterceptor(
			d.panics.StreamServerInterceptor(),
			auth.StreamServerInterceptor(d.authn, auth.GRPCOptions{Logger: d.log}),
		),
		grpc.MaxRecvMsgSize(1 << 20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
	if d.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(d.tls)))
	}
	if tracing(d.tracer) {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(d.tracer))))
	}
	s := grpc.NewServer(opts...)
	ztbrokerv1.RegisterTokenBrokerServer(s, d.service)
	ztbrokerv1.RegisterAdminServiceServer(s, d.service)
	healthpb.RegisterHealthServer(s, d.health)
	reflection.Register(s)
	return s
}
