package migrate_test

import (
	"context"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/store/migrate"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

// BenchmarkAuditPartitioning times the newest migration (the audit
// table's move to monthly partitions) up and back down on a table of a
// million events spread over two years, as an existing installation
// would have it. Wall time depends on the machine's load; PostgreSQL's
// CPU time and WAL are reported beside it. Run with -benchtime=1x.
func BenchmarkAuditPartitioning(b *testing.B) {
	const events = 1_000_000
	ctx := context.Background()
	pool := emptyPool(b)
	meter, err := pgtest.NewMeter(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := migrate.Up(ctx, pool); err != nil {
		b.Fatal(err)
	}
	if err := migrate.Down(ctx, pool, 1); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO audit_events (time, action, actor_kind, actor_subject, actor_claims,
		purpose, lease_id, result, reason, token_sha256)
	SELECT now() - make_interval(secs => g * 63.0), (ARRAY['issue', 'activate', 'revoke', 'revoke_complete'])[1 + g % 4],
		'oidc', 'repo:org/app' || g % 50, jsonb_build_object('repository', 'org/app' || g % 50),
		'deploy', gen_random_uuid()::text, 'ok', '', md5(g::text)
	FROM generate_series(1, $1) g`, events); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE audit_events`); err != nil {
		b.Fatal(err)
	}
	var up, down time.Duration
	var upCost, downCost pgtest.Cost
	b.ResetTimer()
	for range b.N {
		r0, _ := meter.Read(ctx)
		t0 := time.Now()
		if n, err := migrate.Up(ctx, pool); err != nil || n != 1 {
			b.Fatalf("Up = %d, %v", n, err)
		}
		up += time.Since(t0)
		c, err := meter.Since(ctx, r0)
		if err != nil {
			b.Fatal(err)
		}
		upCost.CPU += c.CPU
		upCost.WALBytes += c.WALBytes

		r0, _ = meter.Read(ctx)
		t0 = time.Now()
		if err := migrate.Down(ctx, pool, 1); err != nil {
			b.Fatal(err)
		}
		down += time.Since(t0)
		if c, err = meter.Since(ctx, r0); err != nil {
			b.Fatal(err)
		}
		downCost.CPU += c.CPU
		downCost.WALBytes += c.WALBytes
	}
	n := float64(b.N)
	var count int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events`).Scan(&count); err != nil || count != events {
		b.Fatalf("%d events after the round trips, %v; want %d", count, err, events)
	}
	b.ReportMetric(up.Seconds()/n, "up-s")
	b.ReportMetric(upCost.CPU.Seconds()/n, "up-pg-cpu-s")
	b.ReportMetric(float64(upCost.WALBytes)/n/(1<<20), "up-wal-MiB")
	b.ReportMetric(down.Seconds()/n, "down-s")
	b.ReportMetric(downCost.CPU.Seconds()/n, "down-pg-cpu-s")
	b.ReportMetric(0, "ns/op")
}
