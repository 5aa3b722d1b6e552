package chaos

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ztbroker/ztbroker/internal/testing/testproc"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// pollEvery is the pace of every wait on another process's state.
const pollEvery = 75 * time.Millisecond

// env is one emulator, one database and a config naming both.
type env struct {
	t          *testing.T
	emu        *testproc.Proc
	admin      *emulator.AdminClient
	hc         *http.Client
	dsn        string
	configPath string
	brokerEnv  []string
	apiKey     string
	pool       *pgxpool.Pool
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	e := &env{t: t, dsn: dsn}
	e.hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(e.hc.CloseIdleConnections)
	e.emu = testproc.StartEmulator(t)
	e.admin = e.emu.Admin(e.hc)
	e.configPath, e.brokerEnv, e.apiKey = brokerConfig(t, e.emu.URL, e.emu.AdminToken, dsn)
	return e
}

// db opens the test's own pool on the broker's database, for reading
// leases as they really are. It is opened lazily because the schema
// exists only once a broker has migrated it.
func (e *env) db() *pgxpool.Pool {
	e.t.Helper()
	if e.pool == nil {
		pool, err := pgxpool.New(context.Background(), e.dsn)
		if err != nil {
			e.t.Fatalf("open test pool: %v", err)
		}
		e.t.Cleanup(pool.Close)
		e.pool = pool
	}
	return e.pool
}

// poll calls cond every pollEvery until it reports done or within passes;
// it returns cond's last explanation when time runs out.
func poll(ctx context.Context, within time.Duration, cond func(context.Context) (done bool, why string)) (ok bool, why string) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		done, w := cond(ctx)
		if done {
			return true, ""
		}
		why = w
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false, why
		}
	}
}
