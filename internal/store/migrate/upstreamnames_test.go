package migrate_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/ztbroker/ztbroker/internal/store/migrate"
)

// upstreamNamesVersion is the migration that names leases' upstreams.
const upstreamNamesVersion = 8

// TestUpstreamNamesMigration applies migration 8 over leases written
// before it, whose upstream column held the kind: that value becomes
// their upstream's name (the name the older configuration form gives)
// and is copied as the kind. Down turns a named upstream back into its
// kind; up again succeeds.
func TestUpstreamNamesMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := belowVersion(t, upstreamNamesVersion)
	if columnExists(t, pool, "leases", "upstream_kind") {
		t.Fatal("upstream_kind exists below migration 8")
	}
	insert := `INSERT INTO leases (id, purpose, owner, state, upstream, upstream_account,
		issue_time, expire_time, max_expire_time, created_at, updated_at)
		VALUES ($1, 'deploy', 'api_key:ci', 'active', $2, 'acct', now(), now(), now(), now(), now())`
	for id, up := range map[string]string{"nc": "new_central", "lg": "legacy"} {
		if _, err := pool.Exec(ctx, insert, id, up); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := migrate.Up(ctx, pool); err != nil {
		t.Fatalf("migration 8 over existing leases: %v", err)
	}
	want := map[string]string{"nc": "new_central/new_central", "lg": "legacy/legacy"}
	if d := cmp.Diff(want, upstreams(t, pool)); d != "" {
		t.Errorf("leases after migration 8, name/kind (-want +got):\n%s", d)
	}
	// A replica from before the migration still issues: it writes no kind.
	if _, err := pool.Exec(ctx, insert, "old-replica", "new_central"); err != nil {
		t.Errorf("an insert without upstream_kind: %v", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO leases (id, purpose, owner, state, upstream, upstream_kind, upstream_account,
		issue_time, expire_time, max_expire_time, created_at, updated_at)
		VALUES ('named', 'deploy', 'api_key:ci', 'active', 'staging', 'new_central', 'acct', now(), now(), now(), now(), now())`); err != nil {
		t.Fatal(err)
	}
	if err := migrate.Down(ctx, pool, 1); err != nil {
		t.Fatalf("down: %v", err)
	}
	var named string
	if err := pool.QueryRow(ctx, `SELECT upstream FROM leases WHERE id = 'named'`).Scan(&named); err != nil || named != "new_central" {
		t.Errorf("after down, a lease of upstream staging holds %q, %v; want its kind, new_central", named, err)
	}
	if _, err := migrate.Up(ctx, pool); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

func upstreams(t *testing.T, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id, upstream || '/' || upstream_kind FROM leases`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
