package server

import (
	"crypto/tls"
	"log/slog"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/validutf8"
)

type grpcDeps struct {
	service *broker.Service
	authn   auth.Authenticator
	tls     *tls.Config
	log     *slog.Logger
	health  *health.Server
	tracer  trace.TracerProvider
	panics  *panics.Policy
	limits  config.Limits
	metrics *transportMetrics
}

func newGRPCServer(d grpcDeps) *grpc.Server {
	authOpts := auth.GRPCOptions{Logger: d.log, OnFailure: d.metrics.authFailed("grpc")}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			d.panics.UnaryServerInterceptor(),
			auth.UnaryServerInterceptor(d.authn, authOpts),
			validutf8.UnaryServerInterceptor(),
		),
		grpc.ChainStreamInterceptor(
			d.panics.StreamServerInterceptor(),
			unauthenticatedStreams(d.limits.MaxUnauthenticatedStreams, auth.DefaultExemptMethods(), d.metrics.streamsRefused),
			auth.StreamServerInterceptor(d.authn, authOpts),
			validutf8.StreamServerInterceptor(),
		),
		grpc.MaxRecvMsgSize(1 << 20),
	}
	opts = append(opts, grpcLimitOptions(d.limits)...)
	if d.tls != nil {
		opts = append(opts, grpc.Creds(countedCreds{
			TransportCredentials: credentials.NewTLS(d.tls),
			failed:               d.metrics.handshakeFailed(d.log, "grpc"),
		}))
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
