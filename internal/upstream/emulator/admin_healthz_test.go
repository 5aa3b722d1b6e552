package emulator_test

import (
	"net/http"
	"testing"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
)

func TestHealthzNeedsNoCredential(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t)
	resp, err := e.HTTPClient().Get(e.URL + "/_emulator/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz = %d, want 200", resp.StatusCode)
	}
}
