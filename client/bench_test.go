package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/client"
	"github.com/ztbroker/ztbroker/internal/testing/brokertest"
)

// BenchmarkTokenSourceToken is the cost of Token once the source holds a
// fresh token: what every request made through HTTPClient pays.
func BenchmarkTokenSourceToken(b *testing.B) {
	ts, done := benchSource(b)
	defer done()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenSourceTokenParallel is the same from every core at once.
func BenchmarkTokenSourceTokenParallel(b *testing.B) {
	ts, done := benchSource(b)
	defer done()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ts.Token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchSource(b *testing.B) (*client.TokenSource, func()) {
	br, stop := brokertest.StartExample()
	c, err := client.New(context.Background(), br.GRPCAddr, client.WithAPIKey(br.APIKey))
	if err != nil {
		b.Fatal(err)
	}
	ts := c.TokenSource(brokertest.PurposeNC)
	if _, err := ts.Token(context.Background()); err != nil {
		b.Fatal(err)
	}
	return ts, func() { _ = c.Close(); stop() }
}

// BenchmarkTimeNow is the baseline: Token's fast path is one clock read
// and one atomic load, so on a machine with a slow clock most of its cost
// is this.
func BenchmarkTimeNow(b *testing.B) {
	b.ReportAllocs()
	var t time.Time
	for b.Loop() {
		t = time.Now()
	}
	_ = t
}
