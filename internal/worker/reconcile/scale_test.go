package reconcile_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/testing/testproc"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
	"github.com/ztbroker/ztbroker/internal/worker"
	"github.com/ztbroker/ztbroker/internal/worker/reconcile"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// scaleKeys is the size of the service account in the scale test and
// benchmark: far beyond the ~3,400 keys a 1 MiB read used to hold.
const scaleKeys = 20000

// leaseKey is one lease to seed with its key.
type leaseKey struct {
	id, name string
}

func newLeaseKeys(n int) []leaseKey {
	out := make([]leaseKey, n)
	for i := range out {
		id := uuid.Must(uuid.NewV7()).String()
		out[i] = leaseKey{id: id, name: lease.UpstreamNameFor(workertest.Prefix, "bench", id)}
	}
	return out
}

// insertActive writes one active lease per key in a single COPY: the
// scale is in the reconciler, not in how the rows got there.
func insertActive(tb testing.TB, pool *pgxpool.Pool, account string, lks []leaseKey, tokenIDs []string, now time.Time) {
	tb.Helper()
	rows := make([][]any, len(lks))
	for i, lk := range lks {
		rows[i] = []any{lk.id, "bench", workertest.Owner, "active", lease.UpstreamNewCentral, account, tokenIDs[i], lk.name,
			now.Add(24 * time.Hour), lease.HashToken(lk.id), now, now.Add(time.Hour), now.Add(2 * time.Hour), now, now, lease.UpstreamNewCentral}
	}
	n, err := pool.CopyFrom(context.Background(), pgx.Identifier{"leases"},
		[]string{"id", "purpose", "owner", "state", "upstream", "upstream_account", "upstream_token_id", "upstream_name",
			"upstream_expire_time", "token_sha256", "issue_time", "expire_time", "max_expire_time", "created_at", "updated_at", "upstream_kind"},
		pgx.CopyFromRows(rows))
	if err != nil || int(n) != len(rows) {
		tb.Fatalf("copy leases: %d, %v", n, err)
	}
}

// TestTwentyThousandKeys: a service account holding 20,000 keys of live
// leases, ten orphans and a foreign key. The reconciler lists it, deletes
// the orphans although every delete is answered 403 (which only the key
// list can settle), reports the foreign key, and leaves the rest.
func TestTwentyThousandKeys(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	env := workertest.NewEnvOn(t, pgstore.New(pool), emulator.WithDeleteMissingStatus(403))
	// A loaded test machine may take longer than the default 10s to serve
	// 6 MB; this test is about size, not speed.
	env.NewCentral = env.Emu.NewCentralIssuer(t, func(c *newcentral.Config) { c.Upstream.Timeout = 2 * time.Minute })
	env.Registry = upstream.NewRegistry(env.NewCentral, env.Legacy)
	ctx := t.Context()
	sa := env.NewCentral.Account()
	lks := newLeaseKeys(scaleKeys)
	keys := make([]emulator.SeedKey, len(lks))
	for i, lk := range lks {
		keys[i] = emulator.SeedKey{Description: lk.name, Expires: env.Clock.Now().Add(24 * time.Hour)}
	}
	ids, err := env.Emu.SeedKeys(sa, keys)
	if err != nil {
		t.Fatal(err)
	}
	const orphans = 10
	insertActive(t, pool, sa, lks[orphans:], ids[orphans:], env.Clock.Now().Add(-time.Hour))
	foreign := env.MintUpstreamNamed(t, env.NewCentral, "someone's key")
	// Every delete deletes, then answers 403.
	if err := env.Emu.SetFault(emulator.RouteV2DeleteKey, emulator.Fault{After: true, Status: 403}); err != nil {
		t.Fatal(err)
	}
	g := setupGuarded(t, env, guards(env, reconcile.ForeignAlarm))
	rep, err := g.r.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if rep.Tokens != scaleKeys || len(rep.Deleted) != orphans || len(rep.Foreign) != 1 || rep.Foreign[0].ID != foreign.ID {
		t.Errorf("report: tokens %d (want %d), deleted %d (want %d), foreign %v", rep.Tokens, scaleKeys, len(rep.Deleted), orphans, rep.Foreign)
	}
	orphanIDs := map[string]bool{}
	for _, id := range ids[:orphans] {
		orphanIDs[id] = true
	}
	for _, d := range rep.Deleted {
		if !orphanIDs[d.ID] {
			t.Errorf("deleted %s, which is not an orphan", d.ID)
		}
	}
	alive := 0
	for _, k := range env.Emu.Tokens().ServiceAccounts[0].Keys {
		if k.Alive {
			alive++
		}
	}
	// The admin key, the live leases' keys and the foreign key.
	if want := 1 + scaleKeys - orphans + 1; alive != want {
		t.Errorf("%d keys alive, want %d", alive, want)
	}
	if got := env.Emu.Count(emulator.RouteV2DeleteKey, 403); got != orphans {
		t.Errorf("%d deletes answered 403, want %d", got, orphans)
	}
}

// BenchmarkReconcile measures one reconciliation pass over a service
// account of 20,000 keys, each with its active lease (20,000 rows), and of
// 2,000 for scale, with the emulator in a process of its own so that the
// numbers are the broker's alone. Besides time it reports the CPU the pass
// costs this process, the bytes it allocates, and how far the live heap
// rises above its level before the pass (sampled every 100µs) — the figure
// that says whether a pass fits in a small container.
func BenchmarkReconcile(b *testing.B) {
	for _, n := range []int{2000, scaleKeys} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) { benchReconcile(b, n) })
	}
}

func benchReconcile(b *testing.B, size int) {
	ctx := context.Background()
	emu := testproc.StartEmulator(b)
	hc := &http.Client{Transport: &http.Transport{}}
	b.Cleanup(hc.CloseIdleConnections)
	admin := emu.Admin(hc)
	pool := pgtest.NewPool(b)
	st := pgstore.New(pool)

	lks := newLeaseKeys(size)
	keys := make([]emulator.SeedKey, len(lks))
	for i, lk := range lks {
		keys[i] = emulator.SeedKey{Description: lk.name, Expires: time.Now().Add(24 * time.Hour)}
	}
	ids, err := admin.SeedKeys(ctx, emulator.DefaultServiceAccount, keys)
	if err != nil {
		b.Fatal(err)
	}
	insertActive(b, pool, emulator.DefaultServiceAccount, lks, ids, time.Now().Add(-time.Hour))
	truth, err := admin.Tokens(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cred := upstream.NewAdminCredential(emu.AdminToken)
	for _, k := range truth.ServiceAccounts[0].Keys {
		if k.Admin {
			cred.SetInfo(upstream.AdminInfo{KeyID: k.ID, Account: emulator.DefaultServiceAccount})
		}
	}
	nc, err := newcentral.New(newcentral.Config{BaseURL: emu.URL, HTTPClient: hc, Credential: cred,
		ServiceAccountID: emulator.DefaultServiceAccount, Upstream: upstream.Options{RateLimit: -1, Timeout: time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := reconcile.New(reconcile.Config{
		Deps: worker.Deps{Store: st, Registry: upstream.NewRegistry(nc), Logger: log, Panics: panics.New(log),
			Registerer: prometheus.NewRegistry()},
		Prefix: workertest.Prefix, RunTimeout: 5 * time.Minute,
		Guards: []reconcile.Guard{{Upstream: "new_central", Kind: nc.Kind(), Accounts: []string{nc.Account()}, ForeignKeys: reconcile.ForeignAlarm}},
	})
	if err != nil {
		b.Fatal(err)
	}
	// One pass to warm connections and caches.
	if rep, err := r.RunOnce(ctx); err != nil || rep.Tokens != size || len(rep.Deleted) != 0 || len(rep.Foreign) != 0 {
		b.Fatalf("warm-up pass: tokens %d deleted %d foreign %d, %v", rep.Tokens, len(rep.Deleted), len(rep.Foreign), err)
	}

	var cpu, peak, retained float64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		base := liveHeap()
		cpu0 := cpuTime()
		stop := sampleHeap()
		b.StartTimer()
		rep, err := r.RunOnce(ctx)
		b.StopTimer()
		max := stop()
		cpu += (cpuTime() - cpu0).Seconds()
		peak += float64(max - base)
		runtime.GC()
		retained += float64(int64(liveHeap()) - int64(base))
		if err != nil || rep.Tokens != size {
			b.Fatalf("pass: tokens %d, %v", rep.Tokens, err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(cpu/n*1e3, "cpu-ms/op")
	b.ReportMetric(peak/n/(1<<20), "peak-heap-growth-MiB/op")
	b.ReportMetric(retained/n/(1<<10), "retained-KiB/op")
	b.ReportMetric(float64(size), "keys")
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap records the highest live heap until the returned func is
// called, which returns it.
func sampleHeap() func() uint64 {
	var (
		mu   sync.Mutex
		max  = liveHeap()
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		t := time.NewTicker(100 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if h := liveHeap(); h > max {
					mu.Lock()
					max = h
					mu.Unlock()
				}
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return max
	}
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
