package httperr_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/ztbroker/ztbroker/internal/httperr"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	rec.Header().Set("Cache-Control", "no-store")
	httperr.Write(rec, http.StatusNotFound, codes.NotFound, `no route for GET /x"`)

	if rec.Code != http.StatusNotFound {
		t.Errorf("status = %d, want 404", rec.Code)
	}
	want := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
	if diff := cmp.Diff(want, rec.Header()); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	// The gateway's own errors have this shape; clients rely on it.
	if diff := cmp.Diff(`{"code":5,"message":"no route for GET /x\""}`+"\n", rec.Body.String()); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}
