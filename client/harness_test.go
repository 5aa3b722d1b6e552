package client_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"

	"github.com/ztbroker/ztbroker/client"
	"github.com/ztbroker/ztbroker/internal/testing/brokertest"
)

// bundle is one test's broker, clock and client, all on the same fake
// time: the broker and the emulator read the clock, and the client waits
// on it.
type bundle struct {
	b     *brokertest.Broker
	clock *clockwork.FakeClock
	c     *client.Client
	logs  *brokertest.SyncBuffer
}

func setup(t *testing.T, opts ...brokertest.Option) *bundle {
	t.Helper()
	return setupClient(t, opts)
}

// setupClient is setup with extra options for the client.
func setupClient(t *testing.T, opts []brokertest.Option, copts ...client.Option) *bundle {
	t.Helper()
	clk := clockwork.NewFakeClockAt(time.Now().UTC().Truncate(time.Second))
	b := brokertest.Start(t, append([]brokertest.Option{brokertest.WithClock(clk.Now)}, opts...)...)
	logs := &brokertest.SyncBuffer{}
	c, err := client.New(context.Background(), b.GRPCAddr, append([]client.Option{
		client.WithAPIKey(b.APIKey),
		client.WithClock(clk),
		client.WithTimeout(20 * time.Second),
		client.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		// Reconnect at once after a test restarts the broker: gRPC's
		// own backoff runs on the real clock.
		client.WithDialOptions(grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1, MaxDelay: 10 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})),
	}, copts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		if t.Failed() {
			t.Logf("client logs:\n%s", logs.String())
		}
	})
	return &bundle{b: b, clock: clk, c: c, logs: logs}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// settle waits until the source's loop is parked on its timer again, so
// that whatever the last clock move set off has finished.
func (bu *bundle) settle(t *testing.T) {
	t.Helper()
	if err := bu.clock.BlockUntilContext(testContext(t), 1); err != nil {
		t.Fatalf("the token source never went back to waiting: %v", err)
	}
}

// advance moves the fake time on by d and waits for the source to settle.
func (bu *bundle) advance(t *testing.T, d time.Duration) {
	t.Helper()
	bu.clock.Advance(d)
	bu.settle(t)
}

// connected waits until the client's connection is ready again.
func (bu *bundle) connected(t *testing.T) {
	t.Helper()
	cc := bu.c.Conn().(*grpc.ClientConn)
	ctx := testContext(t)
	cc.Connect()
	for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			t.Fatal("the client never reconnected")
		}
	}
}

// interval is one token's life at the emulator, by the emulator's clock.
type interval struct {
	id         string
	start, end time.Time
}

// tokenLives reads every token the emulator ever minted and when it
// stopped working (deleted or expired), or now when it still works. The
// emulator's own admin key is no token of the source's.
func (bu *bundle) tokenLives() []interval {
	g := bu.b.Emu.Tokens()
	var out []interval
	for _, a := range g.ServiceAccounts {
		for _, k := range a.Keys {
			if k.Admin {
				continue
			}
			end := g.Now
			switch {
			case k.Deleted:
				end = k.DeletedAt
			case k.Expired:
				end = k.Expires
			}
			out = append(out, interval{k.ID, k.CreationTime, end})
		}
	}
	return out
}

// maxOverlap is the most tokens alive at the same instant; an interval
// holds its start and not its end.
func maxOverlap(lives []interval) (n int, at time.Time) {
	for _, a := range lives {
		alive := 0
		for _, b := range lives {
			if !a.start.Before(b.start) && a.start.Before(b.end) {
				alive++
			}
		}
		if alive > n {
			n, at = alive, a.start
		}
	}
	return n, at
}
