package migrate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ztbroker/ztbroker/internal/store/migrate"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

// retentionVersion is the migration that partitions the audit trail.
const retentionVersion = 7

// auditRows renders every audit event, every column, in id order.
func auditRows(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT row_to_json(e)::text FROM (
		SELECT id, time, action, actor_kind, actor_subject, actor_claims, purpose, lease_id,
			result, reason, token_sha256 FROM audit_events ORDER BY id) e`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// insertEvents appends n events spread over the last five years and a
// few in the future, with every column set, as the broker writes them.
func insertEvents(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO audit_events (time, action, actor_kind, actor_subject,
		actor_claims, purpose, lease_id, result, reason, token_sha256)
	SELECT now() - make_interval(hours => g * 37) + make_interval(days => CASE WHEN g % 97 = 0 THEN 90 ELSE 0 END),
		'issue', 'oidc', 'repo:' || g, jsonb_build_object('sub', 'x' || g), 'deploy', 'lease-' || g,
		'ok', 'r' || g, md5(g::text)
	FROM generate_series(1, $1) g`, n)
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditPartitioningKeepsEveryEvent takes a database holding events
// through the partitioning migration up, down and up again: every event,
// with its id, is there after each step, and ids keep growing.
func TestAuditPartitioningKeepsEveryEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Back to the unpartitioned table, which is what an existing
	// installation has, and fill it. Later migrations go down and up
	// with it.
	pool, steps := belowVersion(t, retentionVersion)
	if partitioned(t, pool) {
		t.Fatal("audit_events is partitioned before the migration")
	}
	insertEvents(t, pool, 1500)
	before := auditRows(t, pool)

	if n, err := migrate.Up(ctx, pool); err != nil || n != steps {
		t.Fatalf("Up = %d, %v", n, err)
	}
	if !partitioned(t, pool) {
		t.Fatal("audit_events is not partitioned after the migration")
	}
	if d := cmp.Diff(before, auditRows(t, pool)); d != "" {
		t.Fatalf("events after Up (-before +after):\n%s", d)
	}
	if n := partitions(t, pool); n < 60 {
		t.Errorf("%d partitions for five years of events, want one a month", n)
	}
	// Events written while partitioned, one in a month without a
	// partition (the default's), must survive the way down too.
	insertEvents(t, pool, 10)
	if _, err := pool.Exec(ctx, `INSERT INTO audit_events (time, action) VALUES ('1999-01-01', 'ancient')`); err != nil {
		t.Fatal(err)
	}
	before = auditRows(t, pool)
	if err := migrate.Down(ctx, pool, steps); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if d := cmp.Diff(before, auditRows(t, pool)); d != "" {
		t.Fatalf("events after Down (-before +after):\n%s", d)
	}
	if _, err := migrate.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, auditRows(t, pool)); d != "" {
		t.Fatalf("events after Up again (-before +after):\n%s", d)
	}
	var fresh, max int64
	if err := pool.QueryRow(ctx, `SELECT max(id) FROM audit_events`).Scan(&max); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO audit_events (time, action) VALUES (now(), 'x') RETURNING id`).Scan(&fresh); err != nil {
		t.Fatal(err)
	}
	if fresh <= max {
		t.Errorf("new event got id %d, not after the last kept id %d", fresh, max)
	}
}

func partitioned(t *testing.T, pool *pgxpool.Pool) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'audit_events'::regclass)`).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func partitions(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	return len(pgtest.AuditPartitions(t, pool))
}

// TestAuditStaysAppendOnly: UPDATE, DELETE and TRUNCATE are refused on
// the partitioned table and on each partition, including the default one
// and partitions made after the migration.
func TestAuditStaysAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := emptyPool(t)
	if _, err := migrate.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	insertEvents(t, pool, 100)
	if _, err := pool.Exec(ctx, `INSERT INTO audit_events (time, action) VALUES ('1999-01-01', 'in default')`); err != nil {
		t.Fatal(err)
	}
	// The maintenance function moves the default's rows into a new month
	// and makes months ahead; afterwards the default gets a row again.
	if _, err := pool.Exec(ctx, `SELECT * FROM audit_partitions_maintain(now(), 12, NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO audit_events (time, action) VALUES ('1998-01-01', 'in default')`); err != nil {
		t.Fatal(err)
	}
	tables := append([]string{"audit_events"}, pgtest.AuditPartitions(t, pool)...)
	if !contains(tables, "audit_events_1999_01") || !contains(tables, "audit_events_default") {
		t.Fatalf("partitions %v lack the moved month or the default", tables)
	}
	for _, table := range tables {
		var rows int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{
			`UPDATE ` + table + ` SET reason = 'rewritten'`,
			`DELETE FROM ` + table,
			`TRUNCATE ` + table,
		} {
			_, err := pool.Exec(ctx, stmt)
			var pgErr *pgconn.PgError
			// An empty partition has no row for a row trigger to refuse;
			// the statement changes nothing either way.
			if rows == 0 && !errors.As(err, &pgErr) && stmt[0] != 'T' {
				continue
			}
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Errorf("%s: error %v, want insufficient_privilege from the append-only trigger", stmt, err)
			}
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE reason = 'rewritten'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rows rewritten, %v", n, err)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
