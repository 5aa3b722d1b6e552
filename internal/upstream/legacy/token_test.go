package legacy

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewTokenShape(t *testing.T) {
	t.Parallel()
	for range 50 {
		tok, err := newToken(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != TokenLength {
			t.Fatalf("len = %d, want %d", len(tok), TokenLength)
		}
		if strings.Trim(tok, alphabet) != "" {
			t.Fatalf("token %q has characters outside [A-Za-z0-9]", tok)
		}
	}
}

// TestNewTokenRejectsBiasedBytes feeds bytes at the top of the range, which
// modulo reduction would map to the first few characters; they must be
// skipped.
func TestNewTokenRejectsBiasedBytes(t *testing.T) {
	t.Parallel()
	src := append(bytes.Repeat([]byte{255}, TokenLength*2), bytes.Repeat([]byte{1}, TokenLength*2)...)
	tok, err := newToken(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("B", TokenLength); tok != want {
		t.Errorf("token = %q, want %q", tok, want)
	}
}

func TestNewTokenShortRandomness(t *testing.T) {
	t.Parallel()
	if _, err := newToken(bytes.NewReader([]byte{1, 2, 3})); err == nil {
		t.Fatal("newToken succeeded without enough randomness")
	}
}
