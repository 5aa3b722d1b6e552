package panics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ztbroker/ztbroker/internal/panics"
)

// bundle is a Policy whose log lines a test can read.
type bundle struct {
	p   *panics.Policy
	mu  sync.Mutex
	buf bytes.Buffer
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{}
	b.p = panics.New(slog.New(slog.NewJSONHandler(lockedWriter{b}, nil)))
	return b
}

type lockedWriter struct{ b *bundle }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	return w.b.buf.Write(p)
}

// logs returns the records logged so far.
func (b *bundle) logs(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(b.buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// wantPanic checks that exactly one panic was counted, under where, and
// logged at error with its value and a stack that names the function
// that panicked.
func (b *bundle) wantPanic(t *testing.T, where, value, panicker string) {
	t.Helper()
	want := `
# HELP ztbroker_panics_total Panics recovered, by where they happened: grpc, http, or the worker's name.
# TYPE ztbroker_panics_total counter
ztbroker_panics_total{where="` + where + `"} 1
`
	if err := testutil.CollectAndCompare(b.p, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	logs := b.logs(t)
	if len(logs) != 1 {
		t.Fatalf("%d log records, want 1: %v", len(logs), logs)
	}
	rec := logs[0]
	if rec["level"] != "ERROR" || rec["where"] != where || rec["panic"] != value {
		t.Errorf("log record %v: want level ERROR, where %q, panic %q", rec, where, value)
	}
	if stack, _ := rec["stack"].(string); !strings.Contains(stack, panicker) {
		t.Errorf("logged stack does not name %s:\n%s", panicker, stack)
	}
}

func (b *bundle) wantNone(t *testing.T) {
	t.Helper()
	if n := testutil.CollectAndCount(b.p); n != 0 {
		t.Errorf("%d panic series, want none", n)
	}
	if logs := b.logs(t); len(logs) != 0 {
		t.Errorf("logged %v, want nothing", logs)
	}
}

func panicInHandler(http.ResponseWriter, *http.Request) { panic("boom") }

func TestHTTP(t *testing.T) {
	t.Parallel()

	t.Run("Panic", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := httptest.NewRecorder()
		b.p.HTTP(http.HandlerFunc(panicInHandler)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/leases", nil))

		if rec.Code != http.StatusInternalServerError {
			t.Errorf("status = %d, want 500", rec.Code)
		}
		if diff := cmp.Diff(`{"code":13,"message":"internal error"}`+"\n", rec.Body.String()); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
		b.wantPanic(t, panics.WhereHTTP, "boom", "panics_test.panicInHandler")
	})

	t.Run("AbortHandlerPassesThrough", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", v)
			}
			b.wantNone(t)
		}()
		b.p.HTTP(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })).
			ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	})

	t.Run("NoPanic", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := httptest.NewRecorder()
		b.p.HTTP(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })).
			ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusTeapot {
			t.Errorf("status = %d, want the handler's 418", rec.Code)
		}
		b.wantNone(t)
	})
}

func panicInUnary(context.Context, any) (any, error) { panic("boom") }

func panicInStream(any, grpc.ServerStream) error { panic("boom") }

type stream struct{ grpc.ServerStream }

func (stream) Context() context.Context { return context.Background() }

func TestGRPC(t *testing.T) {
	t.Parallel()
	wantInternal := func(t *testing.T, err error) {
		t.Helper()
		if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != panics.Message {
			t.Errorf("error %v, want INTERNAL %q", err, panics.Message)
		}
	}

	t.Run("Unary", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.p.UnaryServerInterceptor()(t.Context(), nil, &grpc.UnaryServerInfo{FullMethod: "/s/M"}, panicInUnary)
		wantInternal(t, err)
		b.wantPanic(t, panics.WhereGRPC, "boom", "panics_test.panicInUnary")
	})

	t.Run("Stream", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := b.p.StreamServerInterceptor()(nil, stream{}, &grpc.StreamServerInfo{FullMethod: "/s/M"}, panicInStream)
		wantInternal(t, err)
		b.wantPanic(t, panics.WhereGRPC, "boom", "panics_test.panicInStream")
	})

	t.Run("NoPanic", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		want := status.Error(codes.NotFound, "x")
		_, err := b.p.UnaryServerInterceptor()(t.Context(), nil, &grpc.UnaryServerInfo{FullMethod: "/s/M"},
			func(context.Context, any) (any, error) { return nil, want })
		if err != want {
			t.Errorf("error %v, want the handler's %v", err, want)
		}
		b.wantNone(t)
	})
}

func panicInPass(p *panics.Policy) (err error) {
	defer p.Recover(context.Background(), "sweeper", &err)
	var m map[string]int
	m["x"] = 1
	return nil
}

func TestRecover(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := panicInPass(b.p)
	if !errors.Is(err, panics.ErrPanic) {
		t.Fatalf("error %v, want one wrapping ErrPanic", err)
	}
	b.wantPanic(t, "sweeper", "assignment to entry in nil map", "panics_test.panicInPass")
}
