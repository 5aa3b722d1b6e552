package broker

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of the broker's errors.
const ErrorDomain = "ztbroker"

// kinds pairs each sentinel with its code and the message a caller sees
// when the error carries no PublicError of its own.
var kinds = []struct {
	err  error
	code codes.Code
	msg  string
}{
	{errs.NotFound, codes.NotFound, "not found"},
	{errs.AlreadyExists, codes.AlreadyExists, "already exists"},
	{errs.InvalidArgument, codes.InvalidArgument, "invalid argument"},
	{errs.Unauthenticated, codes.Unauthenticated, "missing or invalid credentials"},
	{errs.PermissionDenied, codes.PermissionDenied, "permission denied"},
	{errs.FailedPrecondition, codes.FailedPrecondition, "the lease is not in a state that allows this"},
	{errs.ResourceExhausted, codes.ResourceExhausted, "quota exceeded"},
	{errs.Unavailable, codes.Unavailable, "the service is temporarily unavailable; retry"},
	{errs.Conflict, codes.Aborted, "the lease changed concurrently; retry"},
}

// toStatus is the one place a domain error becomes a gRPC status. The full
// error goes to the log; the caller gets a fixed or explicitly public
// message and nothing from SQL, URLs or upstream bodies.
func (s *Service) toStatus(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	// Only a status made as such passes as it is. status.FromError also
	// accepts one wrapped in other errors, but then its message is the
	// whole chain's text, wrapping and all.
	if se, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		if st := se.GRPCStatus(); st != nil && st.Code() != codes.OK {
			return st.Err()
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, errs.Unavailable):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	for _, k := range kinds {
		if !errors.Is(err, k.err) {
			continue
		}
		msg := k.msg
		var pub *errs.PublicError
		if !errors.As(err, &pub) {
			pub = nil
		} else {
			msg = pub.Msg
		}
		level := slog.LevelWarn
		switch k.code {
		case codes.Unavailable, codes.Aborted:
			level = slog.LevelError
		case codes.PermissionDenied, codes.ResourceExhausted:
			// Refusals have their own audit line (bounded per owner);
			// a second line each would let a flood of refused requests
			// flood the log.
			level = slog.LevelDebug
		}
		s.log.Log(ctx, level, "request failed", "op", op, "code", k.code.String(), "err", err)
		st := status.New(k.code, msg)
		if pub != nil && pub.Reason != "" {
			if withInfo, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: pub.Reason, Domain: ErrorDomain, Metadata: pub.Metadata}); derr == nil {
				st = withInfo
			}
		}
		if d := retryAfter(err); d > 0 {
			_ = grpcSetRetryAfter(ctx, d)
			if withInfo, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}); derr == nil {
				st = withInfo
			}
		}
		return st.Err()
	}
	s.log.ErrorContext(ctx, "request failed", "op", op, "code", codes.Internal.String(), "err", err)
	return status.Error(codes.Internal, "internal error")
}

func retryAfter(err error) time.Duration {
	var q *store.QuotaError
	if errors.As(err, &q) && q.RetryAfter > 0 {
		return q.RetryAfter
	}
	var pub *errs.PublicError
	if errors.As(err, &pub) && pub.RetryAfterSeconds > 0 {
		return time.Duration(pub.RetryAfterSeconds) * time.Second
	}
	return 0
}

// grpcSetRetryAfter also sends the delay as a plain header, for REST
// callers (the gateway forwards it as Grpc-Metadata-Retry-After) and for
// clients that do not decode status details.
func grpcSetRetryAfter(ctx context.Context, d time.Duration) error {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return grpc.SetHeader(ctx, metadata.Pairs("retry-after", strconv.Itoa(secs)))
}
