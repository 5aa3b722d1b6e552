// Package panics is the broker's one answer to a panic, wherever it
// happens: in a gRPC handler, in an HTTP handler, or in a background
// worker's pass. The Policy
//
//   - logs it at error with the panic value and the stack, for us;
//   - counts it in ztbroker_panics_total{where}, so an alert can fire on
//     a bug that callers only see as a failed request;
//   - answers the caller with a fixed message (gRPC INTERNAL or HTTP 500,
//     "internal error"), never the value or the stack; a worker gets an
//     error wrapping ErrPanic instead, and treats the pass as failed.
//
// Left alone, a panic in a gRPC handler or in any worker ends the
// process, taking every in-flight request with it, and net/http's own
// recovery only drops the connection.
package panics
