// Package chaos holds tests, and only tests, that run the real broker
// binary against PostgreSQL and the standalone ZeroTier emulator and then
// break things: SIGKILL mid-issue, an upstream that refuses deletes, a
// database restart under a live server, two replicas racing for the same
// leases. Each ends by comparing the broker's leases with the emulator's
// ground truth, to show that no credential outlives its lease.
package chaos
