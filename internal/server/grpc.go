package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/broker"
)

type grpcDeps struct {
	service *broker.Service
	authn   auth.Authenticator
	tls     *tls.Config
	log     *slog.Logger
	health  *health.Server
	tracer  trace.TracerProvider
}

func newGRPCServer(d grpcDeps) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(d.tracer))),
		grpc.ChainUnaryInterceptor(
			recoverUnary(d.log),
			auth.UnaryServerInterceptor(d.authn, auth.GRPCOptions{Logger: d.log}),
		),
		grpc.ChainStreamInterceptor(
			auth.StreamServerInterceptor(d.authn, auth.GRPCOptions{Logger: d.log}),
		),
		grpc.MaxRecvMsgSize(1 << 20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
	if d.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(d.tls)))
	}
	s := grpc.NewServer(opts...)
	ztbrokerv1.RegisterTokenBrokerServer(s, d.service)
	ztbrokerv1.RegisterAdminServiceServer(s, d.service)
	healthpb.RegisterHealthServer(s, d.health)
	reflection.Register(s)
	return s
}

// recoverUnary turns a handler panic into INTERNAL with a fixed message;
// the stack goes to the log, never to the caller.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if v := recover(); v != nil {
				log.ErrorContext(ctx, "handler panic", "method", info.FullMethod, "panic", v, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(ctx, req)
	}
}

// watchHealth reports SERVING only while the store answers, so load
// balancers stop sending issuance to a replica that cannot record leases.
func watchHealth(ctx context.Context, hs *health.Server, ping func(context.Context) error, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, every)
		err := ping(pctx)
		cancel()
		st := healthpb.HealthCheckResponse_SERVING
		if err != nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		hs.SetServingStatus("", st)
		hs.SetServingStatus(ztbrokerv1.TokenBroker_ServiceDesc.ServiceName, st)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
