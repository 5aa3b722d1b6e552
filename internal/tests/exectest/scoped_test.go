package exectest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// TestExecWithAProxyPurpose runs a command under `broker exec` for a proxy
// purpose: the command gets a broker credential and the broker's proxy as
// its ZeroTier URL, may authorise a member of its network and nothing
// else, and the credential is refused by the broker the moment exec has
// revoked its lease.
func TestExecWithAProxyPurpose(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := newChild(t)
	r := startExec(t, b, b.grpcAddr, c, purposeScoped, `read _ < "$d/gate"; exit 0`)
	g := r.waitReady(t, c)
	if !strings.HasPrefix(g.token, "ztbp_") || g.url != "http://"+b.httpAddr+"/zt/"+purposeScoped || g.scheme != "Bearer" {
		t.Fatalf("the command got a %q… credential for %q with scheme %q", g.token[:min(5, len(g.token))], g.url, g.scheme)
	}
	call := func(method, path string) (int, string) {
		req, err := http.NewRequestWithContext(testContext(t), method, g.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", g.scheme+" "+g.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	authorize := "/api/v2/network/" + scopedNetwork + "/member/" + scopedMember + "/authorize"
	if st, body := call("POST", authorize); st != http.StatusOK {
		t.Fatalf("authorise on the purpose's network: %d %s", st, body)
	}
	if n, _ := b.emu.Network(scopedNetwork); !n.Members[0].Authorized {
		t.Error("the emulator does not show the member authorised")
	}
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/api/v2/network/" + otherNetwork + "/member/" + scopedMember + "/authorize", http.StatusForbidden},
		{"POST", "/api/v2/service-account/" + emulator.DefaultServiceAccount + "/api-key", http.StatusForbidden},
	} {
		if st, body := call(tt.method, tt.path); st != tt.want {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, st, body, tt.want)
		}
	}
	if n, _ := b.emu.Network(otherNetwork); n.Members[0].Authorized {
		t.Error("the other network's member was authorised")
	}

	c.release(t)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exec returned %d; stderr:\n%s", code, r.stderr.String())
	}
	if st, body := call("GET", "/api/v2/network"); st != http.StatusUnauthorized || !strings.Contains(body, "lease of this credential has ended") {
		t.Errorf("after exec: %d %s", st, body)
	}
	if l := b.lease(t, g.leaseID); l.State != "revoked" || l.Delivery != "proxy" {
		t.Errorf("lease %s delivery %s after exec", l.State, l.Delivery)
	}
	for i, out := range []string{r.stdout.String(), r.stderr.String(), b.logs.String()} {
		if strings.Contains(out, g.token) {
			t.Errorf("output %d shows the credential", i)
		}
	}
}
