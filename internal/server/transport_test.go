package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// limitsYAML splices listen.limits (and more listen keys) into the
// harness configuration.
func limitsYAML(lines ...string) option {
	y := "  limits:\n"
	for _, l := range lines {
		y += "    " + l + "\n"
	}
	return withYAML(y, "", "")
}

// TestUnauthenticatedStreamsBounded opens health Watch streams without
// credentials up to the bound: the next is refused RESOURCE_EXHAUSTED,
// and a slot freed by a closed stream is served again.
func TestUnauthenticatedStreamsBounded(t *testing.T) {
	t.Parallel()
	h := setup(t, limitsYAML("max_unauthenticated_streams: 3"))
	conn, err := grpc.NewClient(h.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	hc := healthpb.NewHealthClient(conn)
	watch := func(ctx context.Context) (healthpb.Health_WatchClient, error) {
		st, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return nil, err
		}
		_, err = st.Recv()
		return st, err
	}
	ctx := testContext(t)
	cancels := make([]context.CancelFunc, 0, 3)
	for i := range 3 {
		sctx, cancel := context.WithCancel(ctx)
		cancels = append(cancels, cancel)
		if _, err := watch(sctx); err != nil {
			t.Fatalf("stream %d within the bound: %v", i+1, err)
		}
	}
	_, err = watch(ctx)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("stream beyond the bound: %v, want RESOURCE_EXHAUSTED", err)
	}
	// Health Check is unary and unaffected.
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check while streams are full: %v", err)
	}
	cancels[0]()
	// The server frees the slot when it sees the cancellation, which it
	// may not have yet: retry until it has.
	for {
		if _, err := watch(ctx); err == nil {
			break
		} else if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("stream after one closed: %v", err)
		}
		waitBriefly(ctx)
		if ctx.Err() != nil {
			t.Fatal("the closed stream's slot was never freed")
		}
	}
	for _, c := range cancels[1:] {
		c()
	}
}

// h2Conn is a raw HTTP/2 connection to the gRPC port, to read what the
// server advertises and send what a well-behaved client never would.
func h2Conn(t *testing.T, addr string) (*http2.Framer, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return fr, c
}

// TestGRPCConnectionLimits reads the SETTINGS the gRPC port advertises,
// sends a header list over the limit, and waits out an idle connection.
func TestGRPCConnectionLimits(t *testing.T) {
	t.Parallel()
	h := setup(t, limitsYAML("max_concurrent_streams: 7", "max_header_bytes: 8192", "max_connection_idle: 200ms"))

	fr, _ := h2Conn(t, h.srv.GRPCAddr())
	settings := map[http2.SettingID]uint32{}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			_ = sf.ForeachSetting(func(s http2.Setting) error { settings[s.ID] = s.Val; return nil })
			break
		}
	}
	if settings[http2.SettingMaxConcurrentStreams] != 7 || settings[http2.SettingMaxHeaderListSize] != 8192 {
		t.Errorf("server settings %v; want max concurrent streams 7 and max header list size 8192", settings)
	}
	if err := fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}

	// A request whose headers exceed the list size is reset, unread.
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, hf := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: "x"},
		{Name: ":path", Value: "/grpc.health.v1.Health/Check"}, {Name: "content-type", Value: "application/grpc"},
	} {
		_ = enc.WriteField(hf)
	}
	// Many fields, each short: one field beyond the limit would end the
	// whole connection rather than the stream.
	for i := range 24 {
		_ = enc.WriteField(hpack.HeaderField{Name: fmt.Sprintf("x-big-%d", i), Value: strings.Repeat("a", 500)})
	}
	b := block.Bytes()
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:len(b)/2], EndStream: true}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteContinuation(1, true, b[len(b)/2:]); err != nil {
		t.Fatal(err)
	}
	// Then the connection goes unused until max_connection_idle sends it
	// away.
	var reset, goaway bool
	for !goaway {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames: %v (reset %t)", err, reset)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			reset = reset || f.StreamID == 1
		case *http2.HeadersFrame:
			t.Fatalf("the server answered the oversized request (stream %d)", f.StreamID)
		case *http2.GoAwayFrame:
			goaway = true
		}
	}
	if !reset {
		t.Error("the oversized request was not reset")
	}
}

// TestSilentConnectionsClosed: a connection that never starts its TLS
// handshake is closed after handshake_timeout on both ports, instead of
// being held for two minutes.
func TestSilentConnectionsClosed(t *testing.T) {
	t.Parallel()
	pki := newTLSPKI(t)
	h := setup(t, append(pki.options(), limitsYAML("handshake_timeout: 200ms"))...)
	for name, addr := range map[string]string{"grpc": h.srv.GRPCAddr(), "http": h.srv.HTTPAddr()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
				t.Fatal(err)
			}
			_, err = c.Read(make([]byte, 1))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the silent connection was still open after 30s")
			}
			if err == nil {
				t.Fatal("the server sent bytes to a connection that never spoke")
			}
		})
	}
}

// TestConnectionsBeyondTheLimitClosed holds each API port's connections
// to the bound: the next is closed at once and counted, while the ops
// listener, a port of its own, still answers.
func TestConnectionsBeyondTheLimitClosed(t *testing.T) {
	t.Parallel()
	h := setup(t, withYAML("  ops_addr: 127.0.0.1:0\n", "", ""), limitsYAML("max_connections: 3", "handshake_timeout: 1m"))
	ctx := testContext(t)
	for name, addr := range map[string]string{"grpc": h.srv.GRPCAddr(), "http": h.srv.HTTPAddr()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for range 3 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
			}
			// The three must be accepted before the fourth is judged.
			waitMetric(t, ctx, h, `ztbroker_connections_open{listener="`+name+`"} 3`)
			if servedFrom(t, ctx, "127.0.0.1", addr, name == "http") {
				t.Fatal("the connection beyond the limit was served")
			}
			waitMetric(t, ctx, h, `ztbroker_connections_rejected_total{listener="`+name+`"} 1`)
		})
	}
}

// waitMetric polls the ops listener's /metrics until it shows line.
func waitMetric(t *testing.T, ctx context.Context, h *harness, line string) {
	t.Helper()
	for {
		body := get(t, ctx, "http://"+h.srv.OpsAddr()+"/metrics")
		if strings.Contains(body, line+"\n") {
			return
		}
		waitBriefly(ctx)
		if ctx.Err() != nil {
			t.Fatalf("metrics never showed %q", line)
		}
	}
}

func get(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	status, body := getStatus(t, ctx, url, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	return body
}

func getStatus(t *testing.T, ctx context.Context, url string, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOpsListener serves metrics and probes on their own port, and no
// longer on the API's.
func TestOpsListener(t *testing.T) {
	t.Parallel()
	h := setup(t, withYAML("  ops_addr: 127.0.0.1:0\n", "", ""))
	ctx := testContext(t)
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		if st, body := getStatus(t, ctx, "http://"+h.srv.OpsAddr()+path, nil); st != http.StatusOK {
			t.Errorf("ops %s: %d %s", path, st, body)
		}
		if st, _ := getStatus(t, ctx, h.base+path, nil); st != http.StatusNotFound {
			t.Errorf("api port %s: %d, want 404 once the ops listener serves it", path, st)
		}
	}
	if st, _ := getStatus(t, ctx, h.base+"/openapi.json", nil); st != http.StatusOK {
		t.Errorf("api port /openapi.json: %d", st)
	}
}

// TestHTTPHeaderLimit: request headers past max_header_bytes get 431.
func TestHTTPHeaderLimit(t *testing.T) {
	t.Parallel()
	h := setup(t, limitsYAML("max_header_bytes: 4096"))
	ctx := testContext(t)
	st, _ := getStatus(t, ctx, h.base+"/v1/leases", http.Header{"X-Big": {strings.Repeat("a", 16<<10)}, "Authorization": {"Bearer " + h.keyA}})
	if st != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB of headers: %d, want 431", st)
	}
	if st, body := getStatus(t, ctx, h.base+"/v1/leases", http.Header{"Authorization": {"Bearer " + h.keyA}}); st != http.StatusOK {
		t.Errorf("ordinary request: %d %s", st, body)
	}
}

// TestHandshakeAndAuthFailuresCounted sends garbage instead of a TLS
// handshake to both ports and a wrong key over both transports: each is
// counted by listener or transport and logged at debug, not warn, since
// anyone who can open a connection can cause them.
func TestHandshakeAndAuthFailuresCounted(t *testing.T) {
	t.Parallel()
	pki := newTLSPKI(t)
	h := setup(t, append(pki.options(), withYAML("  ops_addr: 127.0.0.1:0\n", "", ""))...)
	ctx := testContext(t)
	for _, addr := range []string{h.srv.GRPCAddr(), h.srv.HTTPAddr()} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, _ = io.Copy(io.Discard, c)
		_ = c.Close()
	}
	for _, a := range h.apis() {
		_, err := a.list(ctx, "ztb_wrong_key", nil)
		wantErr(t, err, codes.Unauthenticated, http.StatusUnauthorized)
	}
	for _, line := range []string{
		`ztbroker_tls_handshake_errors_total{listener="grpc"} 1`,
		`ztbroker_tls_handshake_errors_total{listener="http"} 1`,
		`ztbroker_auth_failures_total{reason="invalid",transport="grpc"} 1`,
		`ztbroker_auth_failures_total{reason="invalid",transport="http"} 1`,
	} {
		waitMetric(t, ctx, h, line)
	}
	for _, l := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(l, `"level":"WARN"`) && (strings.Contains(l, "handshake") || strings.Contains(l, "authentication failed")) {
			t.Errorf("logged at warn: %s", l)
		}
	}
	if n := strings.Count(h.logs.String(), `"msg":"TLS handshake failed"`); n != 2 {
		t.Errorf("%d debug lines for failed handshakes, want 2", n)
	}
}

// TestStartupWarnings: a TLS key file others can read is logged as a
// warning when the server starts.
func TestStartupWarnings(t *testing.T) {
	t.Parallel()
	pki := newTLSPKI(t)
	if err := os.Chmod(pki.keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	h := setup(t, pki.options()...)
	want := `"level":"WARN","msg":"weak configuration","warning":"listen.tls.key_file: ` + pki.keyFile + ` is readable by others (mode -rw-r--r--)`
	if !strings.Contains(h.logs.String(), want) {
		t.Errorf("start-up log lacks the warning %s:\n%s", want, h.logs.String())
	}
}

// TestConnectionsPerAddressBounded: with max_connections_per_address, a
// third connection from one address is closed and counted, while another
// address is still served.
func TestConnectionsPerAddressBounded(t *testing.T) {
	t.Parallel()
	h := setup(t, withYAML("  ops_addr: 127.0.0.1:0\n", "", ""), limitsYAML("max_connections_per_address: 2", "handshake_timeout: 1m"))
	ctx := testContext(t)
	for range 2 {
		if !servedFrom(t, ctx, "127.0.0.2", h.srv.GRPCAddr(), false) {
			t.Fatal("a connection within the per-address bound was not served")
		}
	}
	if servedFrom(t, ctx, "127.0.0.2", h.srv.GRPCAddr(), false) {
		t.Fatal("a third connection from one address was served")
	}
	waitMetric(t, ctx, h, `ztbroker_connections_rejected_per_address_total{listener="grpc"} 1`)
	if !servedFrom(t, ctx, "127.0.0.1", h.srv.GRPCAddr(), false) {
		t.Error("another address was refused while the first held its bound")
	}
}

// servedFrom dials addr from src (loopback answers for all of
// 127.0.0.0/8 on Linux) and reports whether the connection was served:
// whether the server's first byte arrives. A gRPC server speaks first
// (its SETTINGS frame); an HTTP server is sent a request when ask is set.
// The connection stays open until the test ends. A refused connection is
// reset, which may fail the dial itself.
func servedFrom(t *testing.T, ctx context.Context, src, addr string, ask bool) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial %s from %s: %v", addr, src, err)
		}
		return false
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if ask {
		_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	_, err = c.Read(make([]byte, 1))
	return err == nil
}
