package client_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ztbroker/ztbroker/client"
	"github.com/ztbroker/ztbroker/internal/testing/brokertest"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// loseFirstIssueAnswer lets the first IssueToken reach the broker, which
// issues, and then loses its answer, as a connection that drops at the
// wrong moment does.
func loseFirstIssueAnswer() client.Option {
	var n atomic.Int32
	return client.WithDialOptions(grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any,
		cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoke(ctx, method, req, reply, cc, opts...)
		if method == "/ztbroker.v1.TokenBroker/IssueToken" && err == nil && n.Add(1) == 1 {
			return status.Error(codes.Unavailable, "connection reset after the request was sent")
		}
		return err
	}))
}

// TestTokenSourceRetriesAnIssueWithItsKey loses the answer to the first
// issue. The source retries it with the same idempotency key, so the
// broker replays the lease it issued instead of minting a second token.
func TestTokenSourceRetriesAnIssueWithItsKey(t *testing.T) {
	t.Parallel()
	bu := setupClient(t, nil, loseFirstIssueAnswer())
	ctx := testContext(t)
	ts := bu.c.TokenSource(brokertest.PurposeNC)
	if _, err := ts.Token(ctx); status.Code(err) != codes.Unavailable {
		t.Fatalf("first Token, whose answer was lost: %v, want UNAVAILABLE", err)
	}
	bu.advance(t, 11*time.Second) // past the first backoff
	tok, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Replayed {
		t.Error("the retried issue was not answered as a replay")
	}
	if n := bu.b.Emu.Count(emulator.RouteV2CreateKey, http.StatusOK); n != 1 {
		t.Errorf("the emulator minted %d keys, want 1", n)
	}
	var leases int
	for l, err := range bu.c.List(ctx, client.ListRequest{Purpose: brokertest.PurposeNC}) {
		if err != nil {
			t.Fatal(err)
		}
		if l.ID != tok.Lease.ID {
			t.Errorf("lease %s exists besides the source's %s", l.ID, tok.Lease.ID)
		}
		leases++
	}
	if leases != 1 {
		t.Errorf("the broker holds %d leases, want 1", leases)
	}
}

// TestTokenSourceRecoversWhenAKeyCannotBeReplayed loses the answer to the
// first issue on a broker without a seal key, which cannot show a secret
// twice: the retry is refused as a spent key, and the source issues again
// with a new one. (The first lease cannot be found by the source; it
// lasts until its TTL ends — see the package documentation.)
func TestTokenSourceRecoversWhenAKeyCannotBeReplayed(t *testing.T) {
	t.Parallel()
	bu := setupClient(t, []brokertest.Option{brokertest.WithoutSealKey()}, loseFirstIssueAnswer())
	ctx := testContext(t)
	ts := bu.c.TokenSource(brokertest.PurposeNC)
	if _, err := ts.Token(ctx); err == nil {
		t.Fatal("first Token, whose answer was lost, succeeded")
	}
	bu.advance(t, 11*time.Second)
	if _, err := ts.Token(ctx); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("retry with the spent key: %v, want ALREADY_EXISTS", err)
	}
	bu.advance(t, 11*time.Second)
	tok, err := ts.Token(ctx)
	if err != nil {
		t.Fatalf("after a new key: %v", err)
	}
	if got := bu.b.TryToken(ctx, tok.Scheme, tok.Value); got != http.StatusOK {
		t.Errorf("emulator answered %d", got)
	}
}
