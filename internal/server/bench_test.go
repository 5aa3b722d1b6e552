package server_test

import (
	"context"
	"testing"
	"time"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// BenchmarkIssueRevokeREST measures whole lease cycles through the REST
// gateway, pgstore and the emulator, with eight concurrent clients on two
// cores.
func BenchmarkIssueRevokeREST(b *testing.B) {
	h := setup(b)
	a := restAPI{h}
	ctx := context.Background()
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: r.GetLease().GetId()}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "cycles/s")
}

// BenchmarkProxy measures proxied calls in process, for profiling the
// broker's part; scripts/bench-proxy.sh measures against the binaries.
func BenchmarkProxy(b *testing.B) {
	h := setupScoped(b)
	ctx := context.Background()
	issued, err := restAPI{h}.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeScoped})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, method, path, body string }{
		{"get", "GET", "/api/v2/network/" + netA, ""},
		{"update", "POST", "/api/v2/network/" + netA + "/member/" + memberID(0), `{"name":"bench"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if st, body := h.zt(ctx, issued, bc.method, bc.path, bc.body); st != 200 {
						b.Errorf("%d %s", st, body)
						return
					}
				}
			})
		})
	}
}
