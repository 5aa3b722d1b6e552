// Package server wires the broker together: Config says what to run,
// Complete builds every dependency (unwinding in reverse if a later step
// fails), and Run serves gRPC, the REST gateway, metrics and the workers
// until its context ends, then shuts down gracefully.
package server
