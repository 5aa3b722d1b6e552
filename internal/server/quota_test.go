package server_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func TestQuotaUnderConcurrency(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)
	const callers = 50
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok        int
		exhausted int
		other     []error
	)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := h.apis()[i%2]
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeQuota})
			mu.Lock()
			defer mu.Unlock()
			var ae *apiError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ae) && ae.Code == codes.ResourceExhausted && (ae.HTTP == 0 || ae.HTTP == http.StatusTooManyRequests) &&
				strings.Contains(ae.Msg, "max 10"):
				exhausted++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if ok != quotaActive || exhausted != callers-quotaActive || len(other) > 0 {
		t.Fatalf("%d issued, %d exhausted, other errors %v; want %d and %d", ok, exhausted, other, quotaActive, callers-quotaActive)
	}
	if n := h.activeLeases(t, purposeQuota); n != quotaActive {
		t.Errorf("database holds %d live leases, want %d", n, quotaActive)
	}
	if n := h.liveTokens(); n != quotaActive {
		t.Errorf("emulator holds %d live tokens, want %d", n, quotaActive)
	}
}

// TestQuotaRetryInfo checks the rate quota tells both kinds of caller when
// to come back.
func TestQuotaRetryInfo(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)
	if _, err := h.tb.IssueToken(as(ctx, h.keyA), &ztbrokerv1.IssueTokenRequest{Purpose: purposeRate}); err != nil {
		t.Fatalf("first issue: %v", err)
	}
	_, err := h.tb.IssueToken(as(ctx, h.keyA), &ztbrokerv1.IssueTokenRequest{Purpose: purposeRate})
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("grpc: got %v, want RESOURCE_EXHAUSTED", err)
	}
	var info *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			info = ri
		}
	}
	if info == nil || info.GetRetryDelay().AsDuration() <= 0 {
		t.Errorf("grpc: no positive RetryInfo in %v", st.Details())
	}
	_, err = restAPI{h}.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeRate})
	ae := wantErr(t, err, codes.ResourceExhausted, http.StatusTooManyRequests)
	if ae.RetryAfter == "" || ae.RetryAfter == "0" {
		t.Errorf("rest: Retry-After = %q, want seconds", ae.RetryAfter)
	}
}
