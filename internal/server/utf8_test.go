package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

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
// refused and no lease is made. REST answers 400 INVALID_ARGUMENT. Over
// gRPC, grpc-go's protobuf decoder refuses the message before any broker
// code runs and answers INTERNAL, which the server cannot change without
// a codec of its own (see README's bad-input table); the test holds the
// refusal and would show the code once that is fixed.
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
		for _, req := range []*ztbrokerv1.IssueTokenRequest{
			{Purpose: purposeNC, IdempotencyKey: "k-@@@"},
			{Purpose: purposeNC, Labels: map[string]string{"job": "@@@"}},
		} {
			b, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.Replace(b, []byte("@@@"), []byte{0xff, 0xfe, 0xfd}, 1)
			var out []byte
			err = conn.Invoke(as(ctx, h.keyA), "/ztbroker.v1.TokenBroker/IssueToken", &b, &out, grpc.ForceCodec(rawCodec{}))
			st := status.Convert(err)
			if c := st.Code(); c != codes.InvalidArgument && c != codes.Internal {
				t.Errorf("%v with invalid UTF-8: %v, want it refused (INVALID_ARGUMENT, or INTERNAL from grpc-go's decoder)", req, err)
			}
			if leaks := containsAny(st.Message(), h.leaky()); len(leaks) > 0 {
				t.Errorf("message %q leaks %q", st.Message(), leaks)
			}
		}
	})
	t.Run("rest", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{
			"{\"idempotencyKey\":\"k-\xff\xfe\xfd\"}",
			"{\"labels\":{\"job\":\"\xff\xfe\xfd\"}}",
		} {
			st, _, raw, err := h.raw(ctx, http.MethodPost, "/v1/purposes/nc/tokens", h.keyA, []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				Code    codes.Code `json:"code"`
				Message string     `json:"message"`
			}
			if st != http.StatusBadRequest || json.Unmarshal(raw, &e) != nil || e.Code != codes.InvalidArgument {
				t.Errorf("%q: %d %s, want 400 INVALID_ARGUMENT", body, st, raw)
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
