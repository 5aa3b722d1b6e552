package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/config"
)

// proxyPurposes are three proxy purposes, two on New Central (one with an
// explicit share) and one on Legacy, after the minimal token purpose.
const proxyPurposes = `
  - name: deploy
    upstream: {kind: new_central, service_account_id: sa1}
    allow: {api_keys: [ci]}
  - name: ci-members
    delivery: proxy
    upstream: {kind: new_central, service_account_id: sa1}
    allow: {api_keys: [ci]}
    scope:
      networks: ["8056c2e21c000001"]
      rules:
        - {name: authorize, operations: ["POST /api/v2/network/{network}/member/{member}/authorize"]}
  - name: audit
    delivery: proxy
    upstream: {kind: new_central, service_account_id: sa2}
    allow: {api_keys: [ci]}
    scope:
      rate_limit: 40
      rules: [{name: read, operations: ["GET /api/v2/network"]}]
  - name: legacy-members
    delivery: proxy
    upstream: {kind: legacy}
    allow: {api_keys: [ci]}
    scope:
      rules: [{name: read, operations: ["GET /api/v1/network"]}]`

func proxyDoc(extra map[string]string) string {
	sections := map[string]string{
		"upstreams": "\n  new_central:\n    admin_key_file: /run/secrets/admin\n  legacy:\n    token_file: /run/secrets/legacy\n    user_id: u1",
		"purposes":  proxyPurposes,
	}
	for k, v := range extra {
		sections[k] = v
	}
	return doc(sections)
}

func TestProxyDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.ParseWith("p.yaml", []byte(proxyDoc(nil)), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	type share struct {
		Delivery string
		Rate     float64
		Burst    int
	}
	var got []share
	for _, p := range c.Purposes {
		s := share{Delivery: p.Delivery}
		if p.Scope != nil {
			s.Rate, s.Burst = p.Scope.RateLimit, p.Scope.Burst
		}
		got = append(got, s)
	}
	want := []share{
		{Delivery: "token"},
		// New Central's 100/s minus audit's explicit 40, shared between
		// ci-members and the broker itself.
		{Delivery: "proxy", Rate: 30, Burst: 30},
		{Delivery: "proxy", Rate: 40, Burst: 40},
		// Legacy's 20/s, halved the same way.
		{Delivery: "proxy", Rate: 10, Burst: 10},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("shares (-want +got):\n%s", d)
	}
	wantProxy := config.Proxy{MaxBodyBytes: 64 << 10, MaxResponseBytes: 16 << 20, ReadAuditInterval: time.Minute}
	if d := cmp.Diff(wantProxy, c.Proxy); d != "" {
		t.Errorf("proxy defaults (-want +got):\n%s", d)
	}
}

func TestProxyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra map[string]string
		want  []string
	}{
		{
			name:  "unknown delivery",
			extra: map[string]string{"purposes": minimalSections["purposes"] + "\n    delivery: pipe"},
			want:  []string{`p.yaml: purposes[0].delivery: must be token or proxy, got "pipe"`},
		},
		{
			name:  "scope on a token purpose",
			extra: map[string]string{"purposes": minimalSections["purposes"] + "\n    scope: {rules: []}"},
			want:  []string{"p.yaml: purposes[0].scope: applies only to delivery: proxy; this purpose hands out ZeroTier tokens, which no scope can limit"},
		},
		{
			name: "proxy without a scope",
			extra: map[string]string{"purposes": `
  - name: p
    delivery: proxy
    upstream: {kind: new_central, service_account_id: sa1}
    allow: {api_keys: [ci]}`},
			want: []string{"p.yaml: purposes[0].scope: is required for delivery: proxy (networks, members and rules saying what holders may do)"},
		},
		{
			name: "negative share",
			extra: map[string]string{"purposes": `
  - name: p
    delivery: proxy
    upstream: {kind: legacy}
    allow: {api_keys: [ci]}
    scope: {rate_limit: -1, burst: -2, rules: [{name: r, operations: ["GET /api/v1/network"]}]}`},
			want: []string{
				"p.yaml: purposes[0].scope.rate_limit: must not be negative, got -1",
				"p.yaml: purposes[0].scope.burst: must not be negative, got -2",
			},
		},
		{
			name:  "shares take the whole budget",
			extra: map[string]string{"upstreams": "\n  new_central:\n    admin_key_file: /run/secrets/admin\n    rate_limit: 40\n  legacy:\n    token_file: /run/secrets/legacy\n    user_id: u1"},
			want:  []string{"p.yaml: upstreams.new_central.rate_limit: is 40 requests/s, but the proxy purposes on it take 40: their scope.rate_limit shares must leave room for minting and revoking"},
		},
		{
			name:  "bad public url",
			extra: map[string]string{"proxy": "\n  public_url: ftp://broker.example/x?y=1\n  max_body_bytes: 0\n  read_audit_interval: -1s"},
			want: []string{
				`p.yaml: proxy.public_url: must be an absolute http or https URL without query, fragment or credentials, got "ftp://broker.example/x?y=1"`,
				"p.yaml: proxy.read_audit_interval: must not be negative, got -1s",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.ParseWith("p.yaml", []byte(proxyDoc(tt.extra)), testOptions())
			if err == nil {
				t.Fatal("config accepted")
			}
			got := strings.Split(err.Error(), "\n")
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}
