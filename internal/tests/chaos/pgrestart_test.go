package chaos

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

const (
	// callDeadline is the client's deadline for calls made while the
	// database is down; the broker must answer before it runs out.
	callDeadline = 5 * time.Second
	// recoverWithin bounds the wait for the same process to serve again
	// once PostgreSQL is back.
	recoverWithin = 30 * time.Second
)

func TestPostgresRestartUnderALiveBroker(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cluster := pgtest.StartCluster(t)
	e := newEnv(t, cluster.DSN())
	b := e.startBroker()

	before, err := b.issueGRPC(ctx, purposeNC, time.Minute)
	if err != nil {
		t.Fatalf("issue with the database up: %v", err)
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}

	t.Run("database down", func(t *testing.T) {
		grpcCalls := []struct {
			name string
			call func(context.Context) error
		}{
			{"IssueToken", func(ctx context.Context) error {
				_, err := b.issueGRPC(ctx, purposeLegacy, time.Minute)
				return err
			}},
			{"RevokeLease", func(ctx context.Context) error { return b.revokeGRPC(ctx, before) }},
		}
		for _, c := range grpcCalls {
			cctx, cancel := context.WithTimeout(ctx, callDeadline)
			err := c.call(cctx)
			cancel()
			if got := status.Code(err); got != codes.Unavailable {
				t.Errorf("gRPC %s with the database down: code %s (%v), want Unavailable before the client's %s deadline",
					c.name, got, err, callDeadline)
			}
		}

		restCalls := []struct {
			name string
			call func(context.Context) (int, error)
		}{
			{"issue", func(ctx context.Context) (int, error) {
				_, st, err := b.issueREST(ctx, purposeNC, time.Minute)
				return st, err
			}},
			{"revoke", func(ctx context.Context) (int, error) { return b.revokeREST(ctx, before) }},
		}
		for _, c := range restCalls {
			cctx, cancel := context.WithTimeout(ctx, callDeadline)
			st, err := c.call(cctx)
			cancel()
			if st != http.StatusServiceUnavailable || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("REST %s with the database down: HTTP %d (%v), want 503 before the client's %s deadline",
					c.name, st, err, callDeadline)
			}
		}
		// /readyz reuses one database check for listen.limits.readyz_cache
		// (1s), so it turns within that.
		if ok, _ := poll(ctx, callDeadline, func(ctx context.Context) (bool, string) {
			rctx, cancel := context.WithTimeout(ctx, callDeadline)
			defer cancel()
			return !readyOnce(rctx, b.hc, "http://"+b.proc.HTTPAddr+"/readyz"), "/readyz answers 200"
		}); !ok {
			t.Errorf("/readyz still answered 200 %s after the database went down", callDeadline)
		}
	})

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	var after string
	ok, why := poll(ctx, recoverWithin, func(ctx context.Context) (bool, string) {
		cctx, cancel := context.WithTimeout(ctx, callDeadline)
		defer cancel()
		id, err := b.issueGRPC(cctx, purposeLegacy, time.Minute)
		if err != nil {
			return false, err.Error()
		}
		after = id
		return true, ""
	})
	if !ok {
		t.Fatalf("the broker did not serve again within %s of PostgreSQL restarting: %s", recoverWithin, why)
	}
	select {
	case <-b.proc.Exited():
		t.Fatalf("the broker process exited during the database outage (code %d)", b.proc.Wait())
	default:
	}
	if err := b.revokeGRPC(ctx, before); err != nil {
		t.Errorf("revoke over gRPC after the restart: %v", err)
	}
	if st, err := b.revokeREST(ctx, after); err != nil {
		t.Errorf("revoke over REST after the restart: HTTP %d: %v", st, err)
	}

	// Both tokens must be gone upstream, not merely marked revoked.
	rows, err := e.leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{before, after} {
		if r := rows[id]; r.State != string(lease.StateRevoked) {
			t.Errorf("after an explicit revoke: %s, want revoked", r)
		}
	}
	if a, settled := e.settle(ctx, recoverWithin, 0); !settled {
		t.Errorf("after the restart: %s", a)
	}
}

func readyOnce(ctx context.Context, hc *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
