package config_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/config"
)

// TestPlainHTTPNeedsLoopbackOrOptIn: the admin credential rides on every
// upstream request, so clear text is allowed only to this host or when
// the operator says so (an emulator on a compose network).
func TestPlainHTTPNeedsLoopbackOrOptIn(t *testing.T) {
	t.Parallel()
	const refused = `b.yaml: upstreams.new_central.base_url: must be https (http only for loopback, or with allow_http), got "http://emulator:8089"`
	tests := []struct {
		name, upstream string
		want           []string
	}{
		{"https", "{base_url: https://central.example.com, admin_key_env: ZT_CENTRAL_ADMIN_KEY}", nil},
		{"loopback http", "{base_url: http://127.0.0.1:8089, admin_key_env: ZT_CENTRAL_ADMIN_KEY}", nil},
		{"remote http", "{base_url: http://emulator:8089, admin_key_env: ZT_CENTRAL_ADMIN_KEY}", []string{refused}},
		{"remote http, opted in", "{base_url: http://emulator:8089, allow_http: true, admin_key_env: ZT_CENTRAL_ADMIN_KEY}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.ParseWith("b.yaml", []byte(doc(map[string]string{"upstreams": "\n  new_central: " + tt.upstream})), testOptions())
			var got []string
			if err != nil {
				got = errorLines(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
