// Command proxyload measures what the scoped proxy adds: the same ZeroTier
// calls sent straight to the emulator and through the broker's /zt/
// proxy, side by side in one run, against the real binaries (broker serve
// on PostgreSQL, broker emulator as its own process). scripts/bench-proxy.sh
// starts those and runs it.
//
// For each client count it runs every scenario in turn, for several
// rounds, so a burst of load elsewhere on the machine hits both sides
// alike, and reports per scenario the throughput, p50 and p99 latency,
// the p50 the proxy adds, and (given the processes' pids) the CPU time
// each process spent per call, the load generator's own included, which
// holds up better than latencies on a shared machine. Given -baseline, a
// second broker (an older build on the same database and emulator), its
// calls join the rotation as the "before" rows, so a change is measured
// before and after in the same run.
//
// The scenarios are plain data (scenarios.go) so that they can join a
// general load driver later.
package main
