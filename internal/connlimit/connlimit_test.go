package connlimit_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/ztbroker/ztbroker/internal/connlimit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBeyondTheBoundIsClosed holds two connections under a bound of two:
// the third is closed at once and counted, and once one of the two closes
// a new connection is served again.
func TestBeyondTheBoundIsClosed(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := prometheus.NewGauge(prometheus.GaugeOpts{Name: "open"})
	rejected := prometheus.NewCounter(prometheus.CounterOpts{Name: "rejected"})
	l := connlimit.New(inner, 2, open, rejected)
	accepted := make(chan net.Conn)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })

	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	_, server1 := dial(), <-accepted
	dial()
	<-accepted
	third := dial()
	if err := third.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := third.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("the third connection read %v, want it closed", err)
	}
	if got := testutil.ToFloat64(rejected); got != 1 {
		t.Errorf("rejected = %v, want 1", got)
	}
	if got := testutil.ToFloat64(open); got != 2 {
		t.Errorf("open = %v, want 2", got)
	}
	// Closing twice frees one slot, not two.
	_ = server1.Close()
	_ = server1.Close()
	dial()
	<-accepted
	if l.Open() != 2 || testutil.ToFloat64(open) != 2 {
		t.Errorf("after one close and one new connection: %d open (gauge %v), want 2", l.Open(), testutil.ToFloat64(open))
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}
