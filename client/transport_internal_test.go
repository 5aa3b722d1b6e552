package client

import (
	"net/url"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, req, want string
		fail            bool
	}{
		{base: "https://api.zerotier.com", req: "/api/v2/org", want: "https://api.zerotier.com/api/v2/org"},
		{base: "https://my.zerotier.com/api/v1", req: "/network?x=1", want: "https://my.zerotier.com/api/v1/network?x=1"},
		{base: "https://my.zerotier.com/api/v1/", req: "network", want: "https://my.zerotier.com/api/v1/network"},
		{base: "http://broker:8080/zt", req: "/a%2Fb/c", want: "http://broker:8080/zt/a%2Fb/c"},
		{base: "https://api.zerotier.com", req: "https://API.zerotier.com/x", want: "https://API.zerotier.com/x"},
		{base: "https://api.zerotier.com", req: "http://api.zerotier.com/x", fail: true},
		{base: "https://api.zerotier.com", req: "https://evil.example/x", fail: true},
		{base: "/relative", req: "/x", fail: true},
	}
	for _, tc := range tests {
		u, err := url.Parse(tc.req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := resolve(tc.base, u)
		if tc.fail {
			if err == nil {
				t.Errorf("resolve(%q, %q) = %s, want a refusal", tc.base, tc.req, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("resolve(%q, %q) = %v, %v; want %s", tc.base, tc.req, got, err, tc.want)
		}
	}
}
