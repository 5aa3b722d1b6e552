package server_test

import (
	"net/http"
	"testing"
	"time"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// TestRESTTakesDurationsAsTheCLIWritesThem issues and renews over REST
// with TTLs in both of the forms the REST door accepts and checks the
// lease the broker granted.
func TestRESTTakesDurationsAsTheCLIWritesThem(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)
	for ttl, want := range map[string]time.Duration{`"300s"`: 5 * time.Minute, `"4m"`: 4 * time.Minute, `"1m30s"`: 90 * time.Second} {
		var resp ztbrokerv1.IssueTokenResponse
		if err := h.call(ctx, http.MethodPost, "/v1/purposes/"+purposeNC+"/tokens", h.keyA, []byte(`{"ttl":`+ttl+`}`), &resp); err != nil {
			t.Fatalf("issue with ttl %s: %v", ttl, err)
		}
		l := resp.GetLease()
		// Expiry runs from activation, a moment after issue_time; the
		// TTLs differ by a minute or more, so 30s tells them apart.
		if got := l.GetExpireTime().AsTime().Sub(l.GetIssueTime().AsTime()); got > want || got < want-30*time.Second {
			t.Errorf("ttl %s granted %v, want %v", ttl, got, want)
		}
	}
	var issued ztbrokerv1.IssueTokenResponse
	if err := h.call(ctx, http.MethodPost, "/v1/purposes/"+purposeNC+"/tokens", h.keyA, []byte(`{"ttl":"1m"}`), &issued); err != nil {
		t.Fatal(err)
	}
	var renewed ztbrokerv1.RenewLeaseResponse
	before := time.Now()
	id := issued.GetLease().GetId()
	if err := h.call(ctx, http.MethodPost, "/v1/leases/"+id+":renew", h.keyA, []byte(`{"ttl":"3m"}`), &renewed); err != nil {
		t.Fatalf("renew: %v", err)
	}
	// The broker's clock, not ours, sets the expiry; it lies within the
	// renew call's span.
	exp := renewed.GetLease().GetExpireTime().AsTime()
	if exp.Before(before.Add(3*time.Minute-30*time.Second)) || exp.After(time.Now().Add(3*time.Minute)) {
		t.Errorf("renewed to %v, want 3m after %v", exp, before)
	}
}
