package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ztbroker/ztbroker/internal/lease"
)

func TestMapErr(t *testing.T) {
	t.Parallel()
	pgErr := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code}) }
	tests := []struct {
		name string
		err  error
		want error // nil: passes through unchanged
	}{
		{"no rows", pgx.ErrNoRows, lease.ErrNotFound},
		{"unique violation", pgErr("23505"), lease.ErrAlreadyExists},
		{"check violation", pgErr("23514"), lease.ErrInvalidArgument},
		{"admin shutdown", pgErr("57P01"), lease.ErrUnavailable},
		{"connection failure class", pgErr("08006"), lease.ErrUnavailable},
		{"syntax error", pgErr("42601"), nil},
		{"refused dial", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, lease.ErrUnavailable},
		{"deadline", fmt.Errorf("acquire: %w", context.DeadlineExceeded), lease.ErrUnavailable},
		{"cancelled by caller", fmt.Errorf("acquire: %w", context.Canceled), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := mapErr(tt.err)
			if tt.want == nil {
				if got != tt.err {
					t.Errorf("mapErr(%v) = %v, want it unchanged", tt.err, got)
				}
				return
			}
			if !errors.Is(got, tt.want) {
				t.Errorf("mapErr(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
