package errs

import "errors"

// Sentinel errors. Layers wrap them with context; the gRPC boundary maps
// them to status codes with fixed, client-safe messages.
var (
	NotFound           = errors.New("not found")
	AlreadyExists      = errors.New("already exists")
	InvalidArgument    = errors.New("invalid argument")
	Unauthenticated    = errors.New("unauthenticated")
	PermissionDenied   = errors.New("permission denied")
	FailedPrecondition = errors.New("failed precondition")
	ResourceExhausted  = errors.New("resource exhausted")
	Unavailable        = errors.New("unavailable")
	// Conflict means a row was not in the state an update expected,
	// usually because another replica or request got there first.
	Conflict = errors.New("conflict")
)

// PublicError carries a message that is safe to show the caller, wrapped
// around one of the sentinels above. Anything not wrapped in a PublicError
// reaches the caller only as the sentinel's fixed text.
type PublicError struct {
	Kind error
	Msg  string
	// RetryAfter, when positive, tells the caller when to try again.
	RetryAfterSeconds int
	// Reason, when set, is a stable UPPER_SNAKE_CASE name for the error
	// that clients can test for, sent with Metadata as a
	// google.rpc.ErrorInfo detail.
	Reason   string
	Metadata map[string]string
}

// Reasons a PublicError may carry.
const (
	// ReasonIdempotencyKeyReused: an idempotency key came back with a
	// request that differs from the one that first used it; Metadata
	// "field" names what differs.
	ReasonIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"
)

func (e *PublicError) Error() string { return e.Msg }
func (e *PublicError) Unwrap() error { return e.Kind }

// Public returns an error of kind whose text is safe to show the caller.
func Public(kind error, msg string) error { return &PublicError{Kind: kind, Msg: msg} }
