// Command loadgen measures ztbroker the way its users run it: the real
// broker binary (`broker serve`) on a PostgreSQL cluster with fsync on,
// `broker emulator` as its own process, and clients that speak REST or
// gRPC to the broker from this process.
//
//	go run ./internal/tests/loadgen cycles --pg-url URL [flags]
//	go run ./internal/tests/loadgen scale  --pg-url URL [flags]
//
// cycles runs every selected scenario at every client count, one after
// the other, after two pgbench baselines on the same cluster: a
// single-row INSERT, and the floor, a script with a cycle's round trips
// and durable commits but none of its work (see baselineFloor). For
// each run it reports throughput and latency (which depend on what else
// the machine is doing, so the load average is printed beside them) and
// the measures that hold up under contention: CPU milliseconds per cycle
// of the broker, of PostgreSQL (the postmaster and every child, backends
// included, from /proc/<pid>/stat) and of the emulator, statements,
// commits and WAL bytes per cycle from PostgreSQL's own statistics.
//
// Beside the broker it runs the relay (relay.go): this program again, as
// a process serving the same REST cycle on the stack the broker is built
// on (net/http, pgx) with none of the broker's work, three single-row
// commits on a one-table database and the same upstream calls to the
// same emulator. Its row is a floor for the broker's own: CPU no broker
// on this stack can go below on the machine, measured in the same run.
//
// scale loads the database with many leases and reports the broker's
// resident memory and start-up time over them, and how soon after a
// common expiry instant a storm of leases is dead upstream.
//
// A scenario is one kind of client work (see Scenario); scripts/bench.sh
// runs this command with the defaults the README quotes.
package main
