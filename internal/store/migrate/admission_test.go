package migrate_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ztbroker/ztbroker/internal/store/migrate"
)

// admissionVersion is the migration that records admission on leases
// (0005_lease_admission).
const admissionVersion = 5

// TestLeaseAdmissionMigration applies migration 5 over leases written by
// the schema before it: they keep their rows with "not recorded"
// defaults, an owner's key reused across purposes stays on the newest
// lease only, and down then up again succeeds with the rows intact.
func TestLeaseAdmissionMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, before := belowVersion(t, admissionVersion)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	insert := func(id, owner, purpose, key string, created time.Time) {
		t.Helper()
		_, err := pool.Exec(ctx, `INSERT INTO leases (id, purpose, owner, state, upstream, upstream_account,
			issue_time, expire_time, max_expire_time, idempotency_key, created_at, updated_at)
			VALUES ($1, $2, $3, 'active', 'new_central', 'sa', $4::timestamptz, $4::timestamptz + interval '1 hour', $4::timestamptz + interval '1 hour', $5, $4::timestamptz, $4::timestamptz)`,
			id, purpose, owner, created, key)
		if err != nil {
			t.Fatalf("insert %s: %v", id, err)
		}
	}
	insert("a-old", "oidc:github/repo:acme/infra:ref:refs/heads/main", "deploy", "k", t0)
	insert("b-new", "oidc:github/repo:acme/infra:ref:refs/heads/main", "audit", "k", t0.Add(time.Minute))
	insert("c-other-owner", "api_key:ci", "deploy", "k", t0)
	insert("d-no-key", "api_key:ci", "deploy", "", t0)
	insert("e-no-key", "api_key:ci", "audit", "", t0)

	if _, err := migrate.Up(ctx, pool); err != nil {
		t.Fatalf("migration 5 over existing leases: %v", err)
	}
	// The marker is the migration's own text, written when it was still
	// numbered 4; rows already carry it, so it stays.
	want := map[string]string{
		"a-old":         "k [deploy, before migration 4]",
		"b-new":         "k",
		"c-other-owner": "k",
		"d-no-key":      "",
		"e-no-key":      "",
	}
	if d := cmp.Diff(want, keys(t, pool)); d != "" {
		t.Errorf("idempotency keys after migration 5 (-want +got):\n%s", d)
	}
	var admitted string
	var granted, requested time.Duration
	var claims map[string]string
	err := pool.QueryRow(ctx, `SELECT admitted_by, granted_max_ttl, requested_ttl, owner_claims FROM leases WHERE id = 'b-new'`).
		Scan(&admitted, &granted, &requested, &claims)
	if err != nil || admitted != "" || granted != 0 || requested != 0 || len(claims) != 0 {
		t.Errorf("an old lease reads %q, %v, %v, %v, %v; want the not-recorded defaults", admitted, granted, requested, claims, err)
	}
	// The key is now unique per owner, whatever the purpose.
	_, err = pool.Exec(ctx, `INSERT INTO leases (id, purpose, owner, state, upstream, upstream_account,
		issue_time, expire_time, max_expire_time, idempotency_key, created_at, updated_at)
		VALUES ('f', 'third', 'api_key:ci', 'pending', 'new_central', 'sa', now(), now(), now(), 'k', now(), now())`)
	if err == nil {
		t.Error("a second lease of one owner took the same idempotency key under another purpose")
	}

	if err := migrate.Down(ctx, pool, before); err != nil {
		t.Fatalf("down migration 5: %v", err)
	}
	if d := cmp.Diff(want, keys(t, pool)); d != "" {
		t.Errorf("idempotency keys after down (-want +got):\n%s", d)
	}
	if _, err := migrate.Up(ctx, pool); err != nil {
		t.Fatalf("migration 5 again: %v", err)
	}
}

func keys(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id, idempotency_key FROM leases`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, key string
		if err := rows.Scan(&id, &key); err != nil {
			t.Fatal(err)
		}
		out[id] = key
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
