package upstream_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

// recorder notes the operation and limiter priority of every request that
// reaches the wire.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, fmt.Sprintf("%s@%d", upstream.OperationFrom(req.Context()), upstream.PriorityFrom(req.Context())))
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// TestClientsMarkRevocations checks that every call a Delete makes —
// including the follow-up that confirms a 404 — queues at revoke priority,
// and nothing else does.
func TestClientsMarkRevocations(t *testing.T) {
	t.Parallel()
	const normal, revoke = upstream.PriorityNormal, upstream.PriorityRevoke
	tests := []struct {
		name   string
		issuer func(*emulatortest.Emulator, *http.Client) upstream.Issuer
		want   []string
	}{
		{
			"new central",
			func(e *emulatortest.Emulator, hc *http.Client) upstream.Issuer {
				return e.NewCentralIssuer(t, func(c *newcentral.Config) { c.HTTPClient = hc })
			},
			// The missing key answers 403 here, so Delete confirms by listing.
			[]string{
				fmt.Sprint("mint@", normal), fmt.Sprint("list@", normal), fmt.Sprint("delete@", revoke),
				fmt.Sprint("delete@", revoke), fmt.Sprint("delete_verify@", revoke),
			},
		},
		{
			"legacy",
			func(e *emulatortest.Emulator, hc *http.Client) upstream.Issuer {
				return e.LegacyIssuer(t, func(c *legacy.Config) { c.HTTPClient, c.UserID = hc, "" })
			},
			[]string{
				fmt.Sprint("discover_user@", normal), fmt.Sprint("mint@", normal), fmt.Sprint("list@", normal),
				fmt.Sprint("delete@", revoke), fmt.Sprint("delete@", revoke), fmt.Sprint("delete_verify@", revoke),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := emulatortest.Start(t, emulator.WithDeleteMissingStatus(403))
			base := e.HTTPClient()
			rec := &recorder{next: base.Transport}
			is := tt.issuer(e, &http.Client{Transport: rec})
			m, err := is.Mint(ctx, "ztb-p", e.Now().Add(time.Hour))
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			if _, err := is.List(ctx); err != nil {
				t.Fatalf("List: %v", err)
			}
			for range 2 {
				if err := is.Delete(ctx, m.ID); err != nil {
					t.Fatalf("Delete: %v", err)
				}
			}
			if diff := cmp.Diff(tt.want, rec.seen); diff != "" {
				t.Errorf("operations@priority (-want +got):\n%s", diff)
			}
		})
	}
}
