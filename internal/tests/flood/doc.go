// Package flood holds a benchmark, and only a benchmark, that runs the
// real broker binary on PostgreSQL and the standalone emulator under the
// unauthenticated floods of issue #10 — 20,000 health Watch streams and
// 1,000 idle TCP connections — beside a steady load of admitted callers,
// and reports the broker's resident memory (from /proc) and the callers'
// IssueToken latency with and without each flood. It times things, so it
// is a benchmark, run by scripts/flood.sh; nothing in it asserts a bound.
package flood
