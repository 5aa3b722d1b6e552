package pgtest

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// EnvDatabaseURL names the variable that points tests at an existing
// server instead of a throwaway cluster.
const EnvDatabaseURL = "BROKER_TEST_DATABASE_URL"

// server is the one database server a test process uses. It is package
// state because a test process must share one cluster across all its
// tests, and Main, which stops it, has no other way to find it.
var server serverState

type serverState struct {
	once    sync.Once
	dsn     string
	cluster *Cluster // nil when EnvDatabaseURL is used
	err     error

	templateOnce sync.Once
	templateErr  error
}

// Main runs the tests, stops the shared cluster if one was started, then
// checks for leaked goroutines (with opts) when the tests passed. A
// package's TestMain calls it instead of m.Run.
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	if server.cluster != nil {
		if err := server.cluster.destroy(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// serverDSN returns the DSN of the process's server, starting the shared
// cluster on first use.
func serverDSN(t testing.TB) string {
	t.Helper()
	server.once.Do(func() {
		if dsn := os.Getenv(EnvDatabaseURL); dsn != "" {
			server.dsn = dsn
			return
		}
		c, err := newCluster()
		if err != nil {
			server.err = err
			return
		}
		server.cluster = c
		server.dsn = c.DSN()
	})
	if server.err != nil {
		t.Fatal(server.err)
	}
	return server.dsn
}
