package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// secretDetail stands for everything a wrapped error may carry that a
// caller must never see: SQL, addresses, upstream bodies, secrets.
const secretDetail = `SELECT sealed FROM leases WHERE id=$1 -- 10.9.8.7:5432 body={"key":"zt-SECRET"}`

func TestToStatus(t *testing.T) {
	t.Parallel()
	s := &Service{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	wrap := func(err error) error { return fmt.Errorf("pgstore: %s: %w", secretDetail, err) }
	tests := []struct {
		name  string
		err   error
		code  codes.Code
		msg   string
		retry time.Duration // -1: no RetryInfo
	}{
		{"not found", wrap(errs.NotFound), codes.NotFound, "not found", -1},
		{"already exists", wrap(errs.AlreadyExists), codes.AlreadyExists, "already exists", -1},
		{"invalid argument", wrap(errs.InvalidArgument), codes.InvalidArgument, "invalid argument", -1},
		{"unauthenticated", wrap(errs.Unauthenticated), codes.Unauthenticated, "missing or invalid credentials", -1},
		{"permission denied", wrap(errs.PermissionDenied), codes.PermissionDenied, "permission denied", -1},
		{"failed precondition", wrap(errs.FailedPrecondition), codes.FailedPrecondition, "the lease is not in a state that allows this", -1},
		{"resource exhausted", wrap(errs.ResourceExhausted), codes.ResourceExhausted, "quota exceeded", -1},
		{"unavailable", wrap(errs.Unavailable), codes.Unavailable, "the service is temporarily unavailable; retry", -1},
		{"conflict", wrap(errs.Conflict), codes.Aborted, "the lease changed concurrently; retry", -1},
		{"sentinel itself", errs.NotFound, codes.NotFound, "not found", -1},
		{
			"public error shows its text", wrap(errs.Public(errs.FailedPrecondition, "lease x is revoked")),
			codes.FailedPrecondition, "lease x is revoked", -1,
		},
		{
			"public error with a retry", &errs.PublicError{Kind: errs.Unavailable, Msg: "busy", RetryAfterSeconds: 3},
			codes.Unavailable, "busy", 3 * time.Second,
		},
		{
			// A quota error the broker did not translate still tells the
			// caller when to come back, with the fixed text.
			"quota error", wrap(&store.QuotaError{Limit: "issue_rate", Max: 2, RetryAfter: 90 * time.Second}),
			codes.ResourceExhausted, "quota exceeded", 90 * time.Second,
		},
		{"unknown error", errors.New(secretDetail), codes.Internal, "internal error", -1},
		{"unknown wrapped error", wrap(io.ErrUnexpectedEOF), codes.Internal, "internal error", -1},
		{"canceled", wrap(context.Canceled), codes.Canceled, "request canceled", -1},
		{"deadline exceeded", wrap(context.DeadlineExceeded), codes.DeadlineExceeded, "deadline exceeded", -1},
		{
			// An upstream timeout is the upstream being unavailable, not
			// the caller's deadline.
			"upstream timeout", upstream.TransportError("mint", fmt.Errorf("%s: %w", secretDetail, context.DeadlineExceeded)),
			codes.Unavailable, "the service is temporarily unavailable; retry", -1,
		},
		{
			"upstream status", upstream.StatusError("mint", 503, 2*time.Second),
			codes.Unavailable, "the service is temporarily unavailable; retry", -1,
		},
		{"a status passes through", status.Error(codes.OutOfRange, "out of range"), codes.OutOfRange, "out of range", -1},
		{
			// Wrapped, a status's Error text would carry the wrapping
			// text with it; nothing says either part is client-safe.
			"a wrapped status is an unknown error", wrap(status.Error(codes.Unavailable, "backend down")),
			codes.Internal, "internal error", -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := s.toStatus(context.Background(), "Test", tt.err)
			wantStatus(t, err, tt.code, tt.msg)
			if got := retryDelay(err); got != tt.retry {
				t.Errorf("RetryInfo %v, want %v", got, tt.retry)
			}
			for _, part := range []string{"SELECT", "10.9.8.7", "zt-SECRET", "pgstore"} {
				if strings.Contains(status.Convert(err).Message(), part) {
					t.Errorf("message %q leaks %q", status.Convert(err).Message(), part)
				}
			}
		})
	}
	if err := s.toStatus(context.Background(), "Test", nil); err != nil {
		t.Errorf("toStatus(nil) = %v", err)
	}
}

// TestToStatusCoversEverySentinel fails when a sentinel is added to errs
// without a row in kinds.
func TestToStatusCoversEverySentinel(t *testing.T) {
	t.Parallel()
	sentinels := []error{
		errs.NotFound, errs.AlreadyExists, errs.InvalidArgument, errs.Unauthenticated, errs.PermissionDenied,
		errs.FailedPrecondition, errs.ResourceExhausted, errs.Unavailable, errs.Conflict,
	}
	if len(kinds) != len(sentinels) {
		t.Errorf("kinds has %d rows, errs %d sentinels", len(kinds), len(sentinels))
	}
	seen := map[codes.Code]bool{}
	for _, e := range sentinels {
		found := false
		for _, k := range kinds {
			if k.err == e {
				found = true
				if seen[k.code] {
					t.Errorf("code %s mapped twice", k.code)
				}
				seen[k.code] = true
			}
		}
		if !found {
			t.Errorf("sentinel %q has no row in kinds", e)
		}
	}
}

// TestToStatusLogs checks the full error reaches the log, at warn for a
// caller's fault and error for ours, while the caller gets the fixed text.
func TestToStatusLogs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   error
		level string
	}{
		{"caller's fault", errs.InvalidArgument, "level=WARN"},
		{"unavailable", errs.Unavailable, "level=ERROR"},
		{"conflict", errs.Conflict, "level=ERROR"},
		{"unknown", errors.New("x"), "level=ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf syncBuffer
			s := &Service{log: slog.New(slog.NewTextHandler(&buf, nil))}
			_ = s.toStatus(context.Background(), "Op", fmt.Errorf("%s: %w", secretDetail, tt.err))
			out := buf.String()
			if !strings.Contains(out, tt.level) || !strings.Contains(out, "10.9.8.7") || !strings.Contains(out, "op=Op") {
				t.Errorf("log %q, want %s with the full error", out, tt.level)
			}
		})
	}
}
