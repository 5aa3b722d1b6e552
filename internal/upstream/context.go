package upstream

import "context"

// Priority orders calls waiting on an upstream's rate limiter.
type Priority int

const (
	// PriorityProxy is a call a proxy lease makes through the broker. It
	// waits behind every minting and revoking call: proxied traffic can
	// slow issuance down, never revocation.
	PriorityProxy Priority = -1
	// PriorityNormal is minting, listing and discovery. It is the zero
	// value, what a context without WithPriority gets.
	PriorityNormal Priority = 0
	// PriorityRevoke is deleting a token. Revocations are served before any
	// waiting normal call, so a burst of issuance cannot keep a credential
	// alive past its lease.
	PriorityRevoke Priority = 1
)

// priorities counts the levels, for the limiter's queues.
const priorities = int(PriorityRevoke-PriorityProxy) + 1

type (
	priorityKey  struct{}
	operationKey struct{}
)

// WithPriority marks calls made with ctx. The clients mark their own
// Delete calls; callers need this only for calls of their own.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFrom returns the priority set by WithPriority, or PriorityNormal.
func PriorityFrom(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return p
}

// WithOperation names the call for metrics and spans. Keep names to a
// small fixed set ("mint", "delete", ...): they become label values.
func WithOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

// OperationFrom returns the name set by WithOperation, or "other".
func OperationFrom(ctx context.Context) string {
	if op, ok := ctx.Value(operationKey{}).(string); ok && op != "" {
		return op
	}
	return "other"
}
