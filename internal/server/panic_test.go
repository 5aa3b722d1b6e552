package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// panicLeaseID is the lease whose lookup panics in panicStore.
const panicLeaseID = "00000000-0000-4000-8000-00000000dead"

// panicStore stands in for a bug deep under a handler: it panics on one
// lease and serves everything else.
type panicStore struct{ store.Store }

func (s panicStore) GetLease(ctx context.Context, p store.GetLeaseParams) (*lease.Lease, error) {
	if p.ID == panicLeaseID {
		panic("bug in the store")
	}
	return s.Store.GetLease(ctx, p)
}

func panicInMuxHandler(http.ResponseWriter, *http.Request) { panic("bug in a handler") }

// TestHandlerPanic panics under each door of the running server: a gRPC
// call, the same call through the REST gateway, and a plain handler on
// the HTTP mux. Each caller gets the fixed answer, the server keeps
// serving, and every panic is logged with its stack and counted.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	h := setup(t,
		withStore(func(s store.Store) store.Store { return panicStore{s} }),
		withHTTP("GET /boom", http.HandlerFunc(panicInMuxHandler)))
	ctx := testContext(t)

	for _, a := range h.apis() {
		_, err := a.get(ctx, h.keyA, panicLeaseID)
		if ae := wantErr(t, err, codes.Internal, http.StatusInternalServerError); ae.Msg != "internal error" {
			t.Errorf("%s: message %q, want the fixed %q", a.name(), ae.Msg, "internal error")
		}
		// The door is still open after the panic.
		if _, err := a.list(ctx, h.keyA, nil); err != nil {
			t.Errorf("%s: a call after the panic failed: %v", a.name(), err)
		}
	}
	status, _, body, err := h.raw(ctx, http.MethodGet, "/boom", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusInternalServerError {
		t.Errorf("GET /boom: status %d, want 500", status)
	}
	if diff := cmp.Diff(`{"code":13,"message":"internal error"}`+"\n", string(body)); diff != "" {
		t.Errorf("GET /boom: body (-want +got):\n%s", diff)
	}

	_, _, metrics, err := h.raw(ctx, http.MethodGet, "/metrics", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ztbroker_panics_total{where="grpc"} 1`, `ztbroker_panics_total{where="http"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	type record struct{ Level, Where, Stack string }
	var got []record
	for line := range strings.Lines(h.logs.String()) {
		var r struct {
			Msg, Level, Where, Stack string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r.Msg != "panic recovered" {
			continue
		}
		// Only whether the stack names the panicking function matters.
		for _, fn := range []string{"panicStore.GetLease", "panicInMuxHandler"} {
			if strings.Contains(r.Stack, "server_test."+fn) {
				r.Stack = fn
			}
		}
		got = append(got, record{r.Level, r.Where, r.Stack})
	}
	want := []record{
		{"ERROR", "grpc", "panicStore.GetLease"},
		{"ERROR", "http", "panicStore.GetLease"},
		{"ERROR", "http", "panicInMuxHandler"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("panic log records (-want +got):\n%s", diff)
	}
}
