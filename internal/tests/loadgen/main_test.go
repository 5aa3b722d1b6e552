package main

import (
	"context"
	"os"
	"testing"

	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

func TestMain(m *testing.M) {
	// TestCyclesSmoke starts the relay by running this binary again, as
	// the command does with itself.
	if os.Getenv(relayChildEnv) != "" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	pgtest.Main(m)
}
