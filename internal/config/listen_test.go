package config_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/config"
)

// TestListenAddrsMayShareOnlyPortZero checks the two listeners may name
// the same address only when it asks the kernel for a port, since each
// listener then gets a fresh one.
func TestListenAddrsMayShareOnlyPortZero(t *testing.T) {
	t.Parallel()
	const clash = "b.yaml: listen.http_addr: must differ from grpc_addr"
	tests := []struct {
		grpc, http string
		want       []string
	}{
		{grpc: "127.0.0.1:0", http: "127.0.0.1:0"},
		{grpc: ":0", http: ":0"},
		{grpc: "[::1]:0", http: "[::1]:0"},
		{grpc: "127.0.0.1:0", http: "localhost:0"},
		{grpc: "127.0.0.1:8443", http: "127.0.0.1:8080"},
		{grpc: "127.0.0.1:8080", http: "127.0.0.1:8080", want: []string{clash}},
		{grpc: ":9090", http: ":9090", want: []string{clash}},
	}
	for _, tt := range tests {
		t.Run(tt.grpc+" "+tt.http, func(t *testing.T) {
			t.Parallel()
			listen := fmt.Sprintf("{grpc_addr: %q, http_addr: %q}", tt.grpc, tt.http)
			c, err := config.ParseWith("b.yaml", []byte(doc(map[string]string{"listen": listen})), testOptions())
			var got []string
			if err != nil {
				got = errorLines(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if err == nil && (c.Listen.GRPCAddr != tt.grpc || c.Listen.HTTPAddr != tt.http) {
				t.Errorf("listen = %q, %q; want %q, %q", c.Listen.GRPCAddr, c.Listen.HTTPAddr, tt.grpc, tt.http)
			}
		})
	}
}
