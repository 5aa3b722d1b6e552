package panics

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// UnaryServerInterceptor answers a panic in a unary call with INTERNAL
// and Message. Put it first in the chain so that it covers the other
// interceptors too.
func (p *Policy) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if v := recover(); v != nil {
				_ = p.Recovered(ctx, WhereGRPC, v, slog.String("method", info.FullMethod))
				err = status.Error(codes.Internal, Message)
			}
		}()
		return h(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams, such as
// server reflection's.
func (p *Policy) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if v := recover(); v != nil {
				_ = p.Recovered(ss.Context(), WhereGRPC, v, slog.String("method", info.FullMethod))
				err = status.Error(codes.Internal, Message)
			}
		}()
		return h(srv, ss)
	}
}
