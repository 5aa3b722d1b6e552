package migrate_test

import (
	"context"
	"slices"
	"testing"

	"github.com/ztbroker/ztbroker/internal/store/migrate"
)

func TestPendingNamesWhatUpWouldApply(t *testing.T) {
	t.Parallel()
	pool := emptyPool(t)
	ctx := context.Background()
	migs, err := migrate.Load()
	if err != nil {
		t.Fatal(err)
	}
	var all []int
	for _, m := range migs {
		all = append(all, m.Version)
	}
	check := func(when string, want []int) {
		t.Helper()
		got, err := migrate.Pending(ctx, pool)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: pending %v, want %v", when, got, want)
		}
	}
	check("on an empty database", all)
	if _, err := migrate.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	check("after up", nil)
	if err := migrate.Down(ctx, pool, 1); err != nil {
		t.Fatal(err)
	}
	check("after one down", all[len(all)-1:])
}
