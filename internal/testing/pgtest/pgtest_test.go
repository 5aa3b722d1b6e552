package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { Main(m) }

func TestNewPoolIsMigratedAndIsolated(t *testing.T) {
	t.Parallel()
	a, b := NewPool(t), NewPool(t)
	ctx := context.Background()
	if _, err := a.Exec(ctx, `INSERT INTO audit_events (time, action) VALUES (now(), 'test')`); err != nil {
		t.Fatalf("insert into a migrated database: %v", err)
	}
	for name, pool := range map[string]*pgxpool.Pool{"a": a, "b": b} {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"a": 1, "b": 0}[name]
		if n != want {
			t.Errorf("database %s holds %d events, want %d", name, n, want)
		}
	}
}

func TestClusterRestartKeepsDataAndPort(t *testing.T) {
	t.Parallel()
	c := StartCluster(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(ctx); err == nil {
		t.Fatal("ping succeeded while the cluster was stopped")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := pool.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil {
		t.Fatalf("query after restart: %v", err)
	}
	if v != 7 {
		t.Errorf("got %d after restart, want 7", v)
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://u:p@h:5/old?sslmode=disable", "postgres://u:p@h:5/x?sslmode=disable"},
		{"postgresql://h/", "postgresql://h/x"},
		{"host=h dbname=old", "host=h dbname=old dbname=x"},
	}
	for _, tt := range tests {
		if got := withDatabase(tt.in, "x"); got != tt.want {
			t.Errorf("withDatabase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
