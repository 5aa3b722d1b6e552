package migrate_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ztbroker/ztbroker/internal/store/migrate"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func emptyPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.NewEmptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func columnExists(t *testing.T, pool *pgxpool.Pool, table, column string) bool {
	t.Helper()
	var ok bool
	err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = $1 AND column_name = $2)`, table, column).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func tableExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	err := pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := emptyPool(t)
	migs, err := migrate.Load()
	if err != nil {
		t.Fatal(err)
	}

	n, err := migrate.Up(ctx, pool)
	if err != nil || n != len(migs) {
		t.Fatalf("first Up = %d, %v; want %d, nil", n, err, len(migs))
	}
	if n, err := migrate.Up(ctx, pool); err != nil || n != 0 {
		t.Fatalf("second Up = %d, %v; want 0, nil", n, err)
	}
	for _, table := range []string{"leases", "lease_secrets", "audit_events"} {
		if !tableExists(t, pool, table) {
			t.Errorf("after Up, table %s missing", table)
		}
	}

	if !columnExists(t, pool, "leases", "delivery") || !tableExists(t, pool, "leases_proxy_credential_idx") ||
		!columnExists(t, pool, "leases", "admitted_by") {
		t.Error("after Up, leases.delivery, its index or leases.admitted_by is missing")
	}
	// Each Down(1) reverts the newest applied migration alone.
	for _, step := range []struct {
		name string
		gone func() bool
		kept func() bool
	}{
		{"lease admission",
			func() bool { return !columnExists(t, pool, "leases", "admitted_by") },
			func() bool { return columnExists(t, pool, "leases", "delivery") }},
		{"proxy delivery",
			func() bool {
				return !columnExists(t, pool, "leases", "delivery") && !tableExists(t, pool, "leases_proxy_credential_idx")
			},
			func() bool { return tableExists(t, pool, "audit_events") }},
		{"audit",
			func() bool { return !tableExists(t, pool, "audit_events") },
			func() bool { return tableExists(t, pool, "leases") }},
	} {
		if err := migrate.Down(ctx, pool, 1); err != nil {
			t.Fatalf("Down(1) of %s: %v", step.name, err)
		}
		if !step.gone() || !step.kept() {
			t.Errorf("Down(1) should revert only the %s migration", step.name)
		}
	}
	if got := appliedCount(t, pool); got != len(migs)-3 {
		t.Errorf("three Down(1) left %d migrations applied, want %d", got, len(migs)-3)
	}
	if err := migrate.Down(ctx, pool, len(migs)+5); err != nil {
		t.Fatalf("Down(all): %v", err)
	}
	for _, table := range []string{"leases", "lease_secrets", "audit_events"} {
		if tableExists(t, pool, table) {
			t.Errorf("after Down(all), table %s remains", table)
		}
	}

	if n, err := migrate.Up(ctx, pool); err != nil || n != len(migs) {
		t.Fatalf("Up after Down = %d, %v; want %d, nil", n, err, len(migs))
	}
}

func TestConcurrentUpAppliesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := emptyPool(t)
	migs, err := migrate.Load()
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 2)
	var g errgroup.Group
	for i := range counts {
		g.Go(func() error {
			n, err := migrate.Up(ctx, pool)
			counts[i] = n
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("concurrent Up: %v", err)
	}
	if counts[0]+counts[1] != len(migs) {
		t.Errorf("applied %v between the two callers, want %d in total", counts, len(migs))
	}
	var recorded int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != len(migs) {
		t.Errorf("schema_migrations holds %d rows, want %d", recorded, len(migs))
	}
}

func appliedCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
