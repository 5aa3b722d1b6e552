package server_test

import (
	"errors"
	"io"
	"net"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// readServerSettings reads frames until the server's first SETTINGS and
// acknowledges it.
func readServerSettings(t *testing.T, fr *http2.Framer) {
	t.Helper()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			break
		}
	}
	if err := fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
}

// TestGRPCPingFloodSentAway: a client that pings more often than
// keepalive_min_time allows is sent GOAWAY ENHANCE_YOUR_CALM
// "too_many_pings" and disconnected, before the server has answered all
// of its pings.
func TestGRPCPingFloodSentAway(t *testing.T) {
	t.Parallel()
	h := setup(t, limitsYAML("keepalive_min_time: 1h"))
	fr, _ := h2Conn(t, h.srv.GRPCAddr())
	readServerSettings(t, fr)

	const pings = 8
	for i := range pings {
		// Once the server has sent us away, later writes may fail.
		_ = fr.WritePing(false, [8]byte{byte(i + 1)})
	}
	var acks int
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended without GOAWAY after %d ping acks: %v", acks, err)
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			if !f.IsAck() {
				continue
			}
			acks++
			if f.Data[0] == pings {
				t.Fatalf("the server answered all %d pings and kept the connection", pings)
			}
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeEnhanceYourCalm || string(f.DebugData()) != "too_many_pings" {
				t.Fatalf("GOAWAY %v %q; want ENHANCE_YOUR_CALM too_many_pings", f.ErrCode, f.DebugData())
			}
			// The server closes the connection after it.
			for {
				if _, err := fr.ReadFrame(); err != nil {
					if !errors.Is(err, io.EOF) && !isReset(err) {
						t.Errorf("after GOAWAY: %v, want the connection closed", err)
					}
					return
				}
			}
		}
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// TestGRPCMaxConnectionAge holds a health Watch stream open on a raw
// connection: at max_connection_age the server sends GOAWAY, and once
// max_connection_age_grace has passed it closes the connection under
// the stream that is still open.
func TestGRPCMaxConnectionAge(t *testing.T) {
	t.Parallel()
	h := setup(t, limitsYAML("max_connection_age: 1s", "max_connection_age_grace: 100ms"))
	fr, _ := h2Conn(t, h.srv.GRPCAddr())
	readServerSettings(t, fr)

	var block bytesBuffer
	enc := hpack.NewEncoder(&block)
	for _, hf := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: "x"},
		{Name: ":path", Value: "/grpc.health.v1.Health/Watch"}, {Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	} {
		_ = enc.WriteField(hf)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.b, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	// An empty HealthCheckRequest: uncompressed, length 0.
	if err := fr.WriteData(1, true, []byte{0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	var answered, goaway bool
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if !goaway {
				t.Fatalf("the connection ended without GOAWAY: %v", err)
			}
			if !answered {
				t.Fatal("the watch was never answered")
			}
			return
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			answered = answered || f.StreamID == 1
			if f.StreamEnded() {
				t.Fatal("the server ended the watch instead of closing the aged connection")
			}
		case *http2.HeadersFrame:
			if f.StreamEnded() {
				t.Fatal("the server ended the watch instead of closing the aged connection")
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = fr.WritePing(true, f.Data)
			}
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeNo {
				t.Errorf("GOAWAY %v, want NO_ERROR", f.ErrCode)
			}
			goaway = true
		}
	}
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
