// Package worker holds what every background worker takes from the
// server: the store, the upstream registry, a logger, the panic policy, a
// metrics registerer, a tracer provider and a clock. The revoker, sweeper and reconciler embed Deps in their
// Config, so which of these are required and what an unset one defaults
// to is decided once rather than drifting apart in three copies.
package worker
