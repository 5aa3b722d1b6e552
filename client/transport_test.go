package client_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/client"
	"github.com/ztbroker/ztbroker/internal/testing/brokertest"
)

// TestHTTPClientCallsTheAPIWithTheLeaseToken sends requests by path to
// both kinds of lease: each reaches the lease's API base URL with the
// lease's Authorization scheme, and the emulator accepts it.
func TestHTTPClientCallsTheAPIWithTheLeaseToken(t *testing.T) {
	t.Parallel()
	bu := setup(t)
	ctx := testContext(t)
	tests := []struct {
		purpose, path, want string
	}{
		{purpose: brokertest.PurposeNC, path: "/api/v2/org", want: `"name"`},
		// Legacy's base URL already ends in /api/v1.
		{purpose: brokertest.PurposeLegacy, path: "/status", want: `"user"`},
	}
	for _, tc := range tests {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := bu.c.HTTPClient(tc.purpose).Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.purpose, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s GET %s: %d %s", tc.purpose, tc.path, resp.StatusCode, body)
		}
		if tc.purpose == brokertest.PurposeLegacy {
			var st struct{ User json.RawMessage }
			if json.Unmarshal(body, &st) != nil || string(st.User) == "null" {
				t.Errorf("legacy /status answered for no user: the token was not accepted: %s", body)
			}
		}
	}
}

// TestHTTPClientRefusesOtherHosts never sends the token anywhere but the
// lease's API.
func TestHTTPClientRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	bu := setup(t)
	var seen []string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r.URL.String())
		return respond(http.StatusOK, ""), nil
	})
	hc := &http.Client{Transport: &client.Transport{Source: bu.c.TokenSource(brokertest.PurposeNC), Base: base}}
	_, err := hc.Get("http://attacker.example/api/v2/org")
	if err == nil || !strings.Contains(err.Error(), "refusing to send the token to http://attacker.example") {
		t.Errorf("GET another host: %v, want a refusal", err)
	}
	resp, err := hc.Get(bu.b.EmuURL + "/api/v2/org?x=1")
	if err != nil {
		t.Fatalf("GET the API's own host by absolute URL: %v", err)
	}
	resp.Body.Close()
	if diff := cmp.Diff([]string{bu.b.EmuURL + "/api/v2/org?x=1"}, seen); diff != "" {
		t.Errorf("requests sent (-want +got):\n%s", diff)
	}
}

// TestHTTPClientReplacesARejectedToken revokes the source's lease behind
// its back: the next request is refused with 401, the source replaces the
// lease, and the request goes again with the new token, body and all. A
// request whose body cannot be replayed gets the 401, and the request
// after it the new token.
func TestHTTPClientReplacesARejectedToken(t *testing.T) {
	t.Parallel()
	bu := setup(t)
	ctx := testContext(t)
	ts := bu.c.TokenSource(brokertest.PurposeNC)
	first, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bu.settle(t)

	// The API: accepts a token while the emulator does, records bodies.
	var mu sync.Mutex
	var got []string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		body := ""
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			body = string(b)
		}
		code := bu.b.TryToken(r.Context(), scheme, tok)
		mu.Lock()
		got = append(got, tok[:8]+":"+body)
		mu.Unlock()
		return respond(code, ""), nil
	})
	hc := &http.Client{Transport: &client.Transport{Source: ts, Base: base}}

	// Older than the grace within which a 401 is not trusted.
	bu.advance(t, 10*time.Second)
	if _, _, err := bu.c.Revoke(ctx, first.Lease.ID, "operator revoked it"); err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Post("/api/v2/network", "application/json", strings.NewReader(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the lease was revoked: %d, want 200 from the retry with a new token", resp.StatusCode)
	}
	second, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second.Lease.ID == first.Lease.ID {
		t.Fatal("the source kept the rejected lease")
	}
	want := []string{first.Value[:8] + `:{"n":1}`, second.Value[:8] + `:{"n":1}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (token prefix:body) (-want +got):\n%s", diff)
	}

	// Now a body that cannot be sent twice.
	bu.advance(t, 10*time.Second)
	if _, _, err := bu.c.Revoke(ctx, second.Lease.ID, "operator revoked it again"); err != nil {
		t.Fatal(err)
	}
	got = nil
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/api/v2/network", io.NopCloser(strings.NewReader("once")))
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a request whose body cannot be replayed: %d, want the 401 itself", resp.StatusCode)
	}
	resp, err = hc.Get("/api/v2/org")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the request after it: %d, want 200 with the new token", resp.StatusCode)
	}
	third, _ := ts.Token(ctx)
	want = []string{second.Value[:8] + ":once", third.Value[:8] + ":"}
	if diff := cmp.Diff(want, got); diff != "" || third.Lease.ID == second.Lease.ID {
		t.Errorf("requests (token prefix:body) (-want +got):\n%s", diff)
	}
	bu.settle(t)
	if n := len(bu.b.LiveTokens()); n != 1 {
		t.Errorf("the emulator has %d live tokens, want 1", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func respond(code int, body string) *http.Response {
	return &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
}
