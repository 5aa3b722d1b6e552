package migrate_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ztbroker/ztbroker/internal/store/migrate"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func emptyPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.NewEmptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// belowVersion returns a fresh database migrated all the way up and then
// back down to the schema just before migration version, as an existing
// installation has it, and how many migrations it undid (going down as
// many again leaves it there).
func belowVersion(t *testing.T, version int) (*pgxpool.Pool, int) {
	t.Helper()
	ctx := context.Background()
	pool := emptyPool(t)
	if _, err := migrate.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	migs, err := migrate.Load()
	if err != nil {
		t.Fatal(err)
	}
	steps := len(migs) - (version - 1)
	if err := migrate.Down(ctx, pool, steps); err != nil {
		t.Fatalf("down to below migration %d: %v", version, err)
	}
	return pool, steps
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

	full := schemaOf(t, pool)

	// Down(1) reverts the newest migration alone, and Up puts back
	// exactly the schema it took away.
	if err := migrate.Down(ctx, pool, 1); err != nil {
		t.Fatalf("Down(1): %v", err)
	}
	if got, want := appliedCount(t, pool), len(migs)-1; got != want {
		t.Errorf("after Down(1), %d migrations recorded, want %d", got, want)
	}
	if schemaOf(t, pool) == full {
		t.Error("Down(1) changed nothing in the schema")
	}
	if n, err := migrate.Up(ctx, pool); err != nil || n != 1 {
		t.Fatalf("Up after Down(1) = %d, %v; want 1, nil", n, err)
	}
	if d := cmp.Diff(full, schemaOf(t, pool)); d != "" {
		t.Errorf("schema after Down(1) and Up differs (-before +after):\n%s", d)
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
	if d := cmp.Diff(full, schemaOf(t, pool)); d != "" {
		t.Errorf("schema after Down(all) and Up differs (-before +after):\n%s", d)
	}
}

// schemaOf describes the public schema's tables, columns, constraints,
// indexes and functions, one line each, for comparing two states.
func schemaOf(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var out string
	err := pool.QueryRow(context.Background(), `SELECT string_agg(line, E'\n' ORDER BY line) FROM (
		SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '') AS line
			FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_migrations'
		UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
		UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
			WHERE connamespace = 'public'::regnamespace AND conrelid <> 'schema_migrations'::regclass
		UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
		UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
	) s`).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func appliedCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
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
