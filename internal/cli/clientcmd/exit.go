package clientcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/ztbroker/ztbroker/client"
	"github.com/ztbroker/ztbroker/client/credential"
)

// Exit codes. `exec` exits with its child's code instead once the child has
// started, so these only describe the broker's own failures.
const (
	ExitOK = 0
	// ExitFailure is anything not listed below: a local I/O error, or an
	// internal error of the broker.
	ExitFailure = 1
	// ExitUsage is a mistake on the command line.
	ExitUsage = 2
	// ExitUnauthenticated means no usable credential: none given, the CI
	// token could not be obtained, or the broker rejected it.
	ExitUnauthenticated = 3
	// ExitPermissionDenied means the broker knows the caller and refused.
	ExitPermissionDenied = 4
	// ExitNotFound means the purpose or lease does not exist (for the caller).
	ExitNotFound = 5
	// ExitRejected means the broker refused the request as it stands:
	// invalid argument, wrong lease state, or a spent idempotency key.
	ExitRejected = 6
	// ExitUnavailable means the broker could not be reached or stayed
	// overloaded until the deadline.
	ExitUnavailable = 7
)

const exitCodeHelp = `Exit codes: 0 ok, 1 other failure, 2 usage, 3 unauthenticated, 4 permission
denied, 5 not found, 6 rejected (invalid argument, failed precondition),
7 unavailable (after retrying until --timeout).`

// usageError is a command-line mistake; it is reported like any failure but
// exits with ExitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errSpentKey marks a replayed issuance the broker no longer has the token
// for.
var errSpentKey = errors.New("idempotency key already used")

// fail prints err as the command's one line on stderr and returns its exit
// code.
func fail(env Env, err error) int {
	report(env.Stderr, "", err)
	return exitCode(err)
}

// report prints err on one line, whatever newlines the broker's message
// had.
func report(w io.Writer, prefix string, err error) {
	fmt.Fprintf(w, "broker: %s%s\n", prefix, strings.Join(strings.Fields(err.Error()), " "))
}

func exitCode(err error) int {
	var ue *usageError
	var se *client.StatusError
	switch {
	case errors.As(err, &ue), errors.Is(err, credential.ErrSpec):
		return ExitUsage
	case errors.As(err, &se):
		return codeExit(se.Code())
	case errors.Is(err, errSpentKey):
		return ExitRejected
	case errors.Is(err, credential.ErrUnauthenticated):
		return ExitUnauthenticated
	case errors.Is(err, credential.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return ExitUnavailable
	}
	return ExitFailure
}

func codeExit(c codes.Code) int {
	switch c {
	case codes.Unauthenticated:
		return ExitUnauthenticated
	case codes.PermissionDenied:
		return ExitPermissionDenied
	case codes.NotFound:
		return ExitNotFound
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.OutOfRange:
		return ExitRejected
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted:
		return ExitUnavailable
	}
	return ExitFailure
}
