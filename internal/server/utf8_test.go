package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// rawCodec sends and receives bytes as they are, so that a test can send
// what a protobuf library refuses to marshal.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// TestInvalidUTF8 sends request strings that are not UTF-8, which no
// protobuf or JSON library produces: over both transports they are
// refused with INVALID_ARGUMENT, the message names the field (never the
// bytes), and no lease is made.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)

	t.Run("grpc", func(t *testing.T) {
		t.Parallel()
		conn, err := grpc.NewClient(h.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, tc := range []struct {
			req   *ztbrokerv1.IssueTokenRequest
			field string
		}{
			{&ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: "k-@@@"}, `"idempotency_key"`},
			{&ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Labels: map[string]string{"job": "@@@"}}, `"labels"`},
			{&ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Labels: map[string]string{"@@@": "x"}}, `"labels"`},
			{&ztbrokerv1.IssueTokenRequest{Purpose: "@@@"}, `"purpose"`},
		} {
			req := tc.req
			b, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.Replace(b, []byte("@@@"), []byte{0xff, 0xfe, 0xfd}, 1)
			var out []byte
			err = conn.Invoke(as(ctx, h.keyA), "/ztbroker.v1.TokenBroker/IssueToken", &b, &out, grpc.ForceCodec(rawCodec{}))
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tc.field) {
				t.Errorf("%v with invalid UTF-8: %v, want INVALID_ARGUMENT naming %s", req, err, tc.field)
			}
			if !utf8.ValidString(st.Message()) {
				t.Errorf("message %q echoes the bytes", st.Message())
			}
			if leaks := containsAny(st.Message(), h.leaky()); len(leaks) > 0 {
				t.Errorf("message %q leaks %q", st.Message(), leaks)
			}
		}
	})
	t.Run("rest", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ method, path, body string }{
			{http.MethodPost, "/v1/purposes/nc/tokens", "{\"idempotencyKey\":\"k-\xff\xfe\xfd\"}"},
			{http.MethodPost, "/v1/purposes/nc/tokens", "{\"labels\":{\"job\":\"\xff\xfe\xfd\"}}"},
			{http.MethodPost, "/v1/purposes/%FF%FE/tokens", "{}"},
			{http.MethodGet, "/v1/leases?purpose=%FF%FE", ""},
			{http.MethodGet, "/v1/leases?%FF=1", ""},
			{http.MethodGet, "/v1/leases/%FF%FE", ""},
		} {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			st, _, raw, err := h.raw(ctx, tc.method, tc.path, h.keyA, body)
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				Code    codes.Code `json:"code"`
				Message string     `json:"message"`
			}
			if st != http.StatusBadRequest || json.Unmarshal(raw, &e) != nil || e.Code != codes.InvalidArgument {
				t.Errorf("%s %s %q: %d %s, want 400 INVALID_ARGUMENT", tc.method, tc.path, tc.body, st, raw)
			}
			if !utf8.Valid(raw) {
				t.Errorf("%s %s: answer %q echoes the bytes", tc.method, tc.path, raw)
			}
			if leaks := containsAny(e.Message, h.leaky()); len(leaks) > 0 {
				t.Errorf("message %q leaks %q", e.Message, leaks)
			}
		}
	})
	t.Cleanup(func() {
		if n := h.activeLeases(t, purposeNC); n != 0 {
			t.Errorf("%d leases made from invalid UTF-8", n)
		}
	})
}
