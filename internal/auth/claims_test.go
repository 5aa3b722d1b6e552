package auth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizeClaims(t *testing.T) {
	t.Parallel()
	dec := json.NewDecoder(strings.NewReader(`{"run_id": 12345, "ratio": 0.5, "big": 1e400,
		"nested": {"attempt": 2, "list": [1, 2.5, "x"]}, "name": "acme"}`))
	dec.UseNumber()
	var in map[string]any
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"run_id": int64(12345), "ratio": 0.5, "big": "1e400",
		"nested": map[string]any{"attempt": int64(2), "list": []any{int64(1), 2.5, "x"}},
		"name":   "acme",
	}
	if diff := cmp.Diff(want, NormalizeClaims(in)); diff != "" {
		t.Errorf("NormalizeClaims (-want +got):\n%s", diff)
	}
	if got := NormalizeClaims(float64(3)); got != int64(3) {
		t.Errorf("NormalizeClaims(3.0) = %#v, want int64(3)", got)
	}
}
