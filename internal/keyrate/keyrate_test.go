package keyrate_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ztbroker/ztbroker/internal/keyrate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestTakeAndWait(t *testing.T) {
	t.Parallel()
	s := keyrate.New(1, 3, 0)
	if d := s.Wait("a", t0); d != 0 {
		t.Errorf("unknown key waits %v, want 0", d)
	}
	for i := range 3 {
		if !s.Take("a", t0) {
			t.Fatalf("take %d within the burst refused", i+1)
		}
	}
	if s.Take("a", t0) {
		t.Error("a fourth take within the same instant succeeded")
	}
	if d := s.Wait("a", t0); d != time.Second {
		t.Errorf("spent key waits %v, want 1s", d)
	}
	// Waiting does not take: the key still has its token a second later.
	if d := s.Wait("a", t0.Add(time.Second)); d != 0 {
		t.Errorf("after a second the key waits %v, want 0", d)
	}
	if !s.Take("a", t0.Add(time.Second)) {
		t.Error("the refilled token was refused")
	}
	if !s.Take("b", t0) {
		t.Error("another key shares the first key's bucket")
	}
}

func TestBoundedKeys(t *testing.T) {
	t.Parallel()
	s := keyrate.New(1, 2, 100)
	// A hundred spent keys fill the table...
	for i := range 100 {
		k := fmt.Sprint(i)
		s.Take(k, t0)
		s.Take(k, t0)
	}
	if n := s.Len(); n != 100 {
		t.Fatalf("table holds %d keys, want 100", n)
	}
	// ...and a flood of new ones never grows it past its bound.
	for i := range 10_000 {
		s.Take(fmt.Sprint("new", i), t0)
	}
	if n := s.Len(); n > 100 {
		t.Errorf("table grew to %d keys, bound 100", n)
	}
	// Once refilled, buckets are the first to go: a full table of idle
	// keys makes room without dropping the spent one.
	s = keyrate.New(1, 2, 3)
	s.Take("spent", t0.Add(time.Hour))
	s.Take("spent", t0.Add(time.Hour))
	s.Take("idle1", t0)
	s.Take("idle2", t0)
	s.Take("fresh", t0.Add(time.Hour))
	if d := s.Wait("spent", t0.Add(time.Hour)); d == 0 {
		t.Error("the spent key was evicted while idle keys were kept")
	}
}
