package credential

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const requestToken = "runtime-request-token"

// fakeRuntime stands in for the Actions ID token endpoint. It answers only
// a request that carries the runtime bearer, and hands out tok(audience).
type fakeRuntime struct {
	srv     *httptest.Server
	fetches atomic.Int32
	status  int
}

func newFakeRuntime(t *testing.T, tok func(aud string) string) *fakeRuntime {
	t.Helper()
	f := &fakeRuntime{status: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+requestToken {
			http.Error(w, "bad bearer", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, "query of the request URL was lost", http.StatusBadRequest)
			return
		}
		if f.status != http.StatusOK {
			http.Error(w, "secret-looking body", f.status)
			return
		}
		fmt.Fprintf(w, `{"count":1,"value":%q}`, tok(r.URL.Query().Get("audience")))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unhandled route "+r.Method+" "+r.URL.Path, http.StatusNotImplemented)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRuntime) getenv(bearer string) func(string) string {
	return func(k string) string {
		switch k {
		case "ACTIONS_ID_TOKEN_REQUEST_URL":
			return f.srv.URL + "/token?api-version=2.0"
		case "ACTIONS_ID_TOKEN_REQUEST_TOKEN":
			return bearer
		}
		return ""
	}
}

// fakeJWT builds an unsigned token whose payload carries aud and exp.
func fakeJWT(aud string, exp time.Time) string {
	payload := fmt.Sprintf(`{"aud":%q,"exp":%d}`, aud, exp.Unix())
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
}

func TestGitHubActionsFetchesWithBearerAndAudience(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rt := newFakeRuntime(t, func(aud string) string { return fakeJWT(aud, now.Add(5*time.Minute)) })

	src, err := Parse("github", Config{Audience: "ztbroker", Getenv: rt.getenv(requestToken), HTTPClient: rt.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	gh := src.(*GitHubActions)
	gh.now = func() time.Time { return now }

	got, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fakeJWT("ztbroker", now.Add(5*time.Minute)), got); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}

	// Within its lifetime the token is reused; close to expiry it is not.
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := rt.fetches.Load(); n != 1 {
		t.Errorf("fetches after a reuse = %d, want 1", n)
	}
	now = now.Add(4 * time.Minute)
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := rt.fetches.Load(); n != 2 {
		t.Errorf("fetches near expiry = %d, want 2", n)
	}
}

func TestGitHubActionsFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		bearer  string
		status  int
		wantErr error
		wantMsg string
	}{
		{name: "wrong runtime bearer", bearer: "nope", status: http.StatusOK,
			wantErr: ErrUnauthenticated, wantMsg: "HTTP 401"},
		{name: "runtime error", bearer: requestToken, status: http.StatusInternalServerError,
			wantErr: ErrUnavailable, wantMsg: "HTTP 500"},
		{name: "runtime throttled", bearer: requestToken, status: http.StatusTooManyRequests,
			wantErr: ErrUnavailable, wantMsg: "HTTP 429"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt := newFakeRuntime(t, func(string) string { return "x.y.z" })
			rt.status = tc.status
			src, err := Parse("github", Config{Audience: "a", Getenv: rt.getenv(tc.bearer), HTTPClient: rt.srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Token(context.Background())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v does not wrap %v", err, tc.wantErr)
			}
			for _, leak := range []string{tc.bearer, "secret-looking body", rt.srv.URL} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q leaks %q", err, leak)
				}
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
}

func TestGitHubActionsNeedsRuntimeVariables(t *testing.T) {
	t.Parallel()
	_, err := Parse("github", Config{Getenv: func(string) string { return "" }, HTTPClient: &http.Client{}})
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "id-token: write") {
		t.Errorf("error = %v, want an unauthenticated error that names the permission", err)
	}
}
