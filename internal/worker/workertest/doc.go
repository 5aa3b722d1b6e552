// Package workertest is the test bench shared by the background workers'
// tests: a fake clock, a PostgreSQL store and a ZeroTier emulator wired
// together, helpers that mint real leases through them, and a recorder
// that turns a worker's per-pass hook into something a test can wait on
// without sleeping.
//
// Packages using it call pgtest.Main from their TestMain.
package workertest
