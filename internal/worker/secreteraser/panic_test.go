package secreteraser_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
	"github.com/ztbroker/ztbroker/internal/worker/secreteraser"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

type erasePanics struct {
	store.Store
	workertest.PanicOnce
}

func (s *erasePanics) EraseSealedSecrets(ctx context.Context, now time.Time) (int, error) {
	s.Trip()
	return s.Store.EraseSealedSecrets(ctx, now)
}

// TestPassPanic panics in the loop's first pass: the pass fails and is
// counted, and the next one erases as usual.
func TestPassPanic(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	sealed(t, st, "old", t0)
	type pass struct {
		n   int
		err error
	}
	passes := make(chan pass, 2)
	pol := panics.New(discard)
	e, err := secreteraser.New(secreteraser.Config{
		Store: &erasePanics{Store: st}, Logger: discard, Panics: pol,
		Now: func() time.Time { return t0.Add(time.Hour) }, Interval: 10 * time.Millisecond,
		OnPass: func(n int, err error) {
			select {
			case passes <- pass{n, err}:
			default: // the test has seen all it needs
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)

	if p := <-passes; !errors.Is(p.err, panics.ErrPanic) {
		t.Fatalf("first pass: %d, %v; want a recovered panic", p.n, p.err)
	}
	if p := <-passes; p.n != 1 || p.err != nil {
		t.Fatalf("second pass: %d, %v; want 1 erased", p.n, p.err)
	}
	want := `
# HELP ztbroker_panics_total Panics recovered, by where they happened: grpc, http, or the worker's name.
# TYPE ztbroker_panics_total counter
ztbroker_panics_total{where="secreteraser"} 1
`
	if err := testutil.CollectAndCompare(pol, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
