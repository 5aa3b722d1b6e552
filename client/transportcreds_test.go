package client

import "testing"

func TestTransportChoice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr     string
		insecure bool
		want     string
	}{
		{addr: "127.0.0.1:9090", want: "insecure"},
		{addr: "[::1]:9090", want: "insecure"},
		{addr: "localhost:9090", want: "insecure"},
		{addr: "dns:///localhost:9090", want: "insecure"},
		{addr: "unix:///run/ztbroker.sock", want: "insecure"},
		{addr: "broker.example.com:443", want: "tls"},
		{addr: "10.0.0.5:9090", want: "tls"},
		{addr: "broker.internal:9090", insecure: true, want: "insecure"},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			tc2, err := transportCreds(&options{insecure: tc.insecure}, tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc2.Info().SecurityProtocol; got != tc.want {
				t.Errorf("security = %q, want %q", got, tc.want)
			}
		})
	}
}
