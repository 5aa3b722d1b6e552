package auth_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/auth"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		path       string
		header     string
		tls        *tls.ConnectionState
		exempt     []string
		wantStatus int
		wantBody   string
		wantID     *auth.Identity
	}{
		{name: "bearer", path: "/v1/leases", header: "Bearer tok", wantStatus: http.StatusOK,
			wantID: &auth.Identity{Kind: auth.KindOIDC, Subject: "bearer-user"}},
		{name: "verified cert", path: "/v1/leases", wantStatus: http.StatusOK,
			tls:    &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{leaf("svc")}},
			wantID: &auth.Identity{Kind: auth.KindMTLS, Subject: "svc"}},
		{name: "unverified cert", path: "/v1/leases", tls: &tls.ConnectionState{PeerCertificates: leaf("svc")},
			wantStatus: http.StatusUnauthorized, wantBody: `{"code":16,"message":"missing or invalid credentials"}` + "\n"},
		{name: "wrong bearer", path: "/v1/leases", header: "Bearer nope", wantStatus: http.StatusUnauthorized,
			wantBody: `{"code":16,"message":"missing or invalid credentials"}` + "\n"},
		{name: "issuer down", path: "/v1/leases", header: "Bearer down", wantStatus: http.StatusServiceUnavailable,
			wantBody: `{"code":14,"message":"authentication temporarily unavailable"}` + "\n"},
		{name: "metrics exempt", path: "/metrics", wantStatus: http.StatusOK},
		{name: "healthz exempt", path: "/healthz", wantStatus: http.StatusOK},
		{name: "exact match only", path: "/metrics/x", wantStatus: http.StatusUnauthorized,
			wantBody: `{"code":16,"message":"missing or invalid credentials"}` + "\n"},
		{name: "subtree entry", path: "/debug/pprof/heap", exempt: []string{"/debug/"}, wantStatus: http.StatusOK},
		{name: "custom list replaces default", path: "/metrics", exempt: []string{"/debug/"}, wantStatus: http.StatusUnauthorized,
			wantBody: `{"code":16,"message":"missing or invalid credentials"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var gotID *auth.Identity
			h := auth.Middleware(testChain(), auth.HTTPOptions{ExemptPaths: tt.exempt})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotID = auth.FromContext(r.Context()) }))
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			req.TLS = tt.tls
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantBody, rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantID, gotID); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if tt.wantStatus == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate = %q", rec.Header().Get("WWW-Authenticate"))
			}
			if tt.wantBody != "" && rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q on a rejection, want no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
}
