package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ztbroker/ztbroker/internal/errs"
)

func TestMapErr(t *testing.T) {
	t.Parallel()
	pgErr := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code}) }
	tests := []struct {
		name string
		err  error
		want error // nil: passes through unchanged
	}{
		{"no rows", pgx.ErrNoRows, errs.NotFound},
		{"unique violation", pgErr("23505"), errs.AlreadyExists},
		{"check violation", pgErr("23514"), errs.InvalidArgument},
		{"admin shutdown", pgErr("57P01"), errs.Unavailable},
		{"connection failure class", pgErr("08006"), errs.Unavailable},
		{"syntax error", pgErr("42601"), nil},
		{"refused dial", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, errs.Unavailable},
		{"deadline", fmt.Errorf("acquire: %w", context.DeadlineExceeded), errs.Unavailable},
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
