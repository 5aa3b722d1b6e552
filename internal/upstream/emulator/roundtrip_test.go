package emulator_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		issuer func(*emulator.Emulator, *testing.T) upstream.Issuer
	}{
		{"new central", func(e *emulator.Emulator, t *testing.T) upstream.Issuer { return e.NewCentralIssuer(t) }},
		{"legacy", func(e *emulator.Emulator, t *testing.T) upstream.Issuer { return e.LegacyIssuer(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := emulator.Start(t)
			is := tt.issuer(e, t)

			m, err := is.Mint(ctx, "ztb-test-1", e.Now().Add(time.Hour))
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			if got := e.TryToken(ctx, is.AuthScheme(), m.Secret); got != http.StatusOK {
				t.Fatalf("TryToken after mint = %d, want 200", got)
			}
			toks, err := is.List(ctx)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff([]string{m.ID}, ids(toks)); diff != "" {
				t.Errorf("List ids (-want +got):\n%s", diff)
			}
			if err := is.Delete(ctx, m.ID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if got := e.TryToken(ctx, is.AuthScheme(), m.Secret); got != http.StatusUnauthorized {
				t.Fatalf("TryToken after delete = %d, want 401", got)
			}
			if err := is.Delete(ctx, m.ID); err != nil {
				t.Fatalf("second Delete: %v", err)
			}
			toks, err = is.List(ctx)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(toks) != 0 {
				t.Errorf("List after delete = %v, want none", toks)
			}
		})
	}
}

func ids(toks []upstream.Token) []string {
	out := make([]string, 0, len(toks))
	for _, t := range toks {
		out = append(out, t.ID)
	}
	return out
}
