package retention_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/worker"
	"github.com/ztbroker/ztbroker/internal/worker/retention"
)

// seedEnded writes n leases that ended 40 days ago (half revoked, half
// failed) and live ones beside them, straight in SQL: the benchmark is
// about deleting them.
func seedEnded(b *testing.B, ctx context.Context, exec func(context.Context, string, ...any) error, n, live int) {
	b.Helper()
	const q = `INSERT INTO leases (id, purpose, owner, state, upstream, upstream_account, upstream_token_id,
		upstream_name, token_sha256, issue_time, expire_time, max_expire_time, revoke_reason, revoke_time,
		created_at, updated_at)
	SELECT gen_random_uuid()::text, 'deploy', 'api_key:ci', $2, 'new_central', 'acct', 'key-' || g,
		'ztb-deploy-' || g, md5(g::text), t, t + interval '15 minutes', t + interval '1 hour',
		CASE WHEN $2 = 'active' THEN '' ELSE 'expired' END, CASE WHEN $2 = 'active' THEN NULL ELSE t END, t, t
	FROM generate_series(1, $1) g, LATERAL (SELECT now() - interval '40 days' + g * interval '1 millisecond') AS x(t)`
	for _, p := range []struct {
		n     int
		state string
	}{{n / 2, "revoked"}, {n - n/2, "failed"}, {live, "active"}} {
		if err := exec(ctx, q, p.n, p.state); err != nil {
			b.Fatal(err)
		}
	}
	if err := exec(ctx, `VACUUM ANALYZE leases`); err != nil {
		b.Fatal(err)
	}
}

func goCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLeaseRetention deletes 100,000 ended leases (beside 10,000
// active ones) with one worker, as a first pass over a backlog would, at
// several batch sizes. It reports rows per second of wall time, which a
// busy machine distorts, and the CPU time of the broker process and of
// PostgreSQL and the WAL written per row, which hold better. Run with
// -benchtime=1x: every run needs a fresh backlog.
func BenchmarkLeaseRetention(b *testing.B) {
	const rows, live = 100_000, 10_000
	for _, batch := range []int{100, 500, 2000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			pool := pgtest.NewPool(b)
			exec := func(ctx context.Context, q string, args ...any) error {
				_, err := pool.Exec(ctx, q, args...)
				return err
			}
			meter, err := pgtest.NewMeter(ctx, pool)
			if err != nil {
				b.Fatal(err)
			}
			var wall, gocpu time.Duration
			var cost pgtest.Cost
			for range b.N {
				b.StopTimer()
				seedEnded(b, ctx, exec, rows, live)
				w, err := retention.New(retention.Config{
					Deps: worker.Deps{Store: pgstore.New(pool), Registry: upstream.NewRegistry(), Logger: discard,
						Panics: panics.New(discard)},
					BatchSize: batch,
				})
				if err != nil {
					b.Fatal(err)
				}
				r0, err := meter.Read(ctx)
				if err != nil {
					b.Fatal(err)
				}
				c0, t0 := goCPU(), time.Now()
				b.StartTimer()
				n, batches, err := w.DeleteLeases(ctx)
				b.StopTimer()
				wall += time.Since(t0)
				gocpu += goCPU() - c0
				c, err2 := meter.Since(ctx, r0)
				if err != nil || err2 != nil || n != rows {
					b.Fatalf("DeleteLeases = %d in %d batches, %v, %v; want %d", n, batches, err, err2, rows)
				}
				cost.CPU += c.CPU
				cost.WALBytes += c.WALBytes
				var left int
				if err := pool.QueryRow(ctx, `SELECT count(*) FROM leases`).Scan(&left); err != nil || left != live {
					b.Fatalf("%d leases left, %v; want the %d live ones", left, err, live)
				}
				if err := exec(ctx, `DELETE FROM leases`); err != nil {
					b.Fatal(err)
				}
			}
			total := float64(rows * b.N)
			b.ReportMetric(total/wall.Seconds(), "rows/s")
			b.ReportMetric(float64(gocpu.Microseconds())/total, "broker-cpu-µs/row")
			b.ReportMetric(float64(cost.CPU.Microseconds())/total, "pg-cpu-µs/row")
			b.ReportMetric(float64(cost.WALBytes)/total, "wal-B/row")
			b.ReportMetric(0, "ns/op")
		})
	}
}
