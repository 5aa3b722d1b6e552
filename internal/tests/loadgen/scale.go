package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// scaleCmd measures what a large lease table costs the broker: resident
// memory and start-up time over it, and how soon after one shared
// expiry instant a storm of leases is dead upstream.
func scaleCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	rows := fs.Int("rows", 1_000_000, "leases in the table in all, ended ones included")
	active := fs.Int("active", 100_000, "of which active (expiring in a day)")
	endedAge := fs.Duration("ended-age", 29*24*time.Hour,
		"ended leases are spread over this much past time; beyond the 30-day lease retention, the broker purges them during the run")
	storm := fs.Int("storm", 2000, "leases issued through the broker that then expire at one instant")
	account := fs.String("filler-account", "loadgen-filler",
		"New Central account of the filled leases; the broker is not configured for it, so the reconciler, which holds every live lease of an account it lists, leaves them alone")
	lead := fs.Duration("lead", 5*time.Second, "how far after the broker's restart the storm expires")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *active > *rows {
		return errors.New("--active must not exceed --rows")
	}
	dir, bin, cleanup, err := c.prepare(ctx, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	cl, err := openCluster(ctx, c.pgURL)
	if err != nil {
		return err
	}
	defer cl.close()
	const db = "loadgen_scale"
	dbURL, err := cl.freshDatabase(ctx, db)
	if err != nil {
		return err
	}
	emu, target, err := startEmulator(ctx, bin, dir)
	if err != nil {
		return err
	}
	defer emu.kill()
	setup := brokerSetup{dir: dir, dbURL: dbURL, defaultTTL: time.Hour}

	fmt.Fprintf(stdout, "machine: %s\n", describeMachine())
	fmt.Fprintf(stdout, "PostgreSQL: %s\n", serverVersion(ctx, cl))
	if err := migrateWith(ctx, bin, setup, target); err != nil {
		return err
	}
	began := time.Now()
	if err := fill(ctx, dbURL, *rows, *active, *account, *endedAge); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "filled %d leases (%d active) in %s\n", *rows, *active, time.Since(began).Round(time.Second))

	broker, startup, err := startBroker(ctx, bin, setup, target, "broker-1.log")
	if err != nil {
		return err
	}
	rss, _ := rssBytes(broker.pid())
	fmt.Fprintf(stdout, "start-up over %d rows (%d active): ready %s after exec; RSS %.1f MiB\n",
		*rows, *active, startup.Round(time.Millisecond), mib(rss))

	ids, err := issueMany(ctx, target, *storm, 8)
	if err != nil {
		broker.kill()
		return err
	}
	rss, _ = rssBytes(broker.pid())
	hwm, _ := statusField(broker.pid(), "VmHWM:")
	fmt.Fprintf(stdout, "after issuing %d leases through REST: RSS %.1f MiB (peak %.1f MiB)\n", len(ids), mib(rss), mib(hwm))
	if err := broker.stop(30 * time.Second); err != nil {
		return err
	}

	// The storm: every lease issued above expires at the same instant,
	// which the restarted broker learns from the table alone.
	at := time.Now().Add(*lead).Truncate(time.Millisecond)
	if err := expireAt(ctx, dbURL, ids, at); err != nil {
		return err
	}
	broker, startup, err = startBroker(ctx, bin, setup, target, "broker-2.log")
	if err != nil {
		return err
	}
	defer func() { _ = broker.stop(30 * time.Second) }()
	fmt.Fprintf(stdout, "restart over %d rows: ready %s after exec\n", *rows+len(ids), startup.Round(time.Millisecond))
	lags, err := awaitDeletions(ctx, target, ids, at, 60*time.Second)
	if err != nil {
		return err
	}
	rss, _ = rssBytes(broker.pid())
	hwm, _ = statusField(broker.pid(), "VmHWM:")
	q := func(p float64) time.Duration { return lags[min(len(lags)-1, int(p*float64(len(lags))))] }
	fmt.Fprintf(stdout, "storm: %d leases expiring at one instant were dead upstream %s (first) to %s (last) after it; p50 %s, p99 %s\n",
		len(lags), lags[0].Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond),
		q(0.5).Round(time.Millisecond), q(0.99).Round(time.Millisecond))
	fmt.Fprintf(stdout, "after the storm: RSS %.1f MiB (peak %.1f MiB); load average %.2f\n", mib(rss), mib(hwm), loadAvg())
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func statusField(pid int, field string) (int64, error) { return rssLike(pid, field) }

// migrateWith runs `broker migrate` with the broker's own configuration.
func migrateWith(ctx context.Context, bin string, s brokerSetup, t *Target) error {
	path, env, err := writeConfig(s, t)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "migrate", "--config", path)
	cmd.Env = append(cmd.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("broker migrate: %w\n%s", err, out)
	}
	return nil
}

// fill inserts rows leases straight into the table, active of them
// active until tomorrow and the rest revoked over the last 29 days, on
// account. Their tokens do not exist upstream. A busy broker's table
// looks like this in its steady state: the retention worker deletes
// ended leases after 30 days (the default), so older ones are not there.
// Filling with older ones would measure, beside the storm, the one-off
// purge of a table that had no retention (flag -ended-age).
func fill(ctx context.Context, dbURL string, rows, active int, account string, endedAge time.Duration) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	const insert = `INSERT INTO leases (id, purpose, owner, state, upstream, upstream_account,
		upstream_token_id, upstream_name, token_sha256, issue_time, expire_time, max_expire_time,
		revoke_reason, revoke_time, created_at, updated_at, upstream_kind)
	SELECT id, 'bench', 'api_key:loadgen', st, 'new_central', $3,
		'k' || n, 'ztbroker-bench-' || id, md5(id), t, t + interval '1 day', t + interval '1 day',
		CASE WHEN st = 'revoked' THEN 'done' ELSE '' END, CASE WHEN st = 'revoked' THEN t END, t, t, 'new_central'
	FROM (SELECT n, gen_random_uuid()::text AS id,
			CASE WHEN n <= $2 THEN 'active' ELSE 'revoked' END AS st,
			CASE WHEN n <= $2 THEN now() ELSE now() - $5::interval * (1 - n::float8 / $4::int) END AS t
		FROM generate_series($1::int, $4::int) AS n) g`
	const chunk = 100_000
	for from := 1; from <= rows; from += chunk {
		to := min(rows, from+chunk-1)
		if _, err := conn.Exec(ctx, insert, from, active, account, to, endedAge); err != nil {
			return fmt.Errorf("fill leases %d-%d: %w", from, to, err)
		}
	}
	_, err = conn.Exec(ctx, `VACUUM ANALYZE leases`)
	return err
}

// issueMany issues n leases through REST with the given concurrency and
// returns their ids.
func issueMany(ctx context.Context, t *Target, n, clients int) ([]string, error) {
	var (
		mu   sync.Mutex
		ids  []string
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	for range clients {
		wg.Go(func() {
			c := &restClient{t: t, hc: &http.Client{Timeout: 30 * time.Second}}
			defer c.Close()
			for range next {
				var issued struct {
					Lease restLease `json:"lease"`
				}
				err := c.post(ctx, "/v1/purposes/"+t.Purpose+"/tokens", `{}`, &issued)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					ids = append(ids, issued.Lease.ID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d issues failed, first: %w", len(errs), n, errs[0])
	}
	return ids, nil
}

func expireAt(ctx context.Context, dbURL string, ids []string, at time.Time) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `UPDATE leases SET expire_time = $2 WHERE id = ANY($1) AND state = 'active'`, ids, at)
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) != len(ids) {
		return fmt.Errorf("moved the expiry of %d leases, want %d", tag.RowsAffected(), len(ids))
	}
	return nil
}

// awaitDeletions polls the emulator's ground truth until every lease's
// key is deleted, and returns each deletion's lag behind at, sorted.
func awaitDeletions(ctx context.Context, t *Target, ids []string, at time.Time, limit time.Duration) ([]time.Duration, error) {
	admin := &emulator.AdminClient{BaseURL: t.EmulatorURL, AdminToken: t.EmulatorAdminToken,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want["ztbroker-"+t.Purpose+"-"+id] = true
	}
	if err := sleep(ctx, time.Until(at)); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(limit)
	for {
		g, err := admin.Tokens(ctx)
		if err != nil {
			return nil, err
		}
		var lags []time.Duration
		for _, sa := range g.ServiceAccounts {
			for _, k := range sa.Keys {
				if want[k.Description] && k.Deleted {
					lags = append(lags, k.DeletedAt.Sub(at))
				}
			}
		}
		if len(lags) == len(ids) {
			slices.Sort(lags)
			return lags, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d storm leases still alive upstream %s after expiry", len(ids)-len(lags), len(ids), limit)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
}
