package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// mapErr translates a driver error into the errs sentinel it means,
// keeping the driver error in the chain for logs. Errors it does not
// recognise pass through unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return errs.NotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if kind := codeKind(pgErr.Code); kind != nil {
			return fmt.Errorf("%w: %w", kind, err)
		}
		return err
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %w", errs.Unavailable, err)
	}
	return err
}

// codeKind maps SQLSTATE codes that have a domain meaning.
func codeKind(code string) error {
	switch code {
	case "23505": // unique_violation
		return errs.AlreadyExists
	case "23514", // check_violation
		"23502", // not_null_violation
		"22P02", // invalid_text_representation
		"22007", // invalid_datetime_format
		"22008", // datetime_field_overflow
		"22001", // string_data_right_truncation
		"22023": // invalid_parameter_value

		return errs.InvalidArgument
	case "40001", // serialization_failure
		"40P01", // deadlock_detected
		"53300", // too_many_connections
		"55P03", // lock_not_available
		"57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03": // cannot_connect_now
		return errs.Unavailable
	}
	if len(code) == 5 && code[:2] == "08" { // connection_exception class
		return errs.Unavailable
	}
	return nil
}

// unreachable reports whether err means the server could not be reached or
// the connection broke: the API answers UNAVAILABLE so callers retry.
// A cancelled request context is not among them; that is the caller's
// doing.
func unreachable(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connErr),
		errors.As(err, &netErr),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded),
		pgconn.Timeout(err),
		pgconn.SafeToRetry(err):
		return true
	}
	return false
}
