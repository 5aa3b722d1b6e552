package connlimit_test

import (
	"errors"
	"net"
	"syscall"
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
	l := connlimit.New(inner, connlimit.Options{Max: 2, Open: open, Rejected: rejected})
	accepted := serve(t, l)

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
	expectRefused(t, net.Dialer{}, inner.Addr().String())
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

// expectRefused dials addr and wants the connection reset, before the
// dial returns or at the first read: a FIN would leave the listener
// holding TIME_WAIT for every connection it refused.
func expectRefused(t *testing.T, d net.Dialer, addr string) {
	t.Helper()
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial: %v, want a connection or a reset", err)
		}
		return
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read %v, want the connection reset", err)
	}
}

// TestOneAddressCannotTakeEverySlot bounds each remote address to two
// connections: a third from the same address is closed and counted while
// another address is still served, a slot freed is usable again, and an
// address with nothing open is forgotten.
func TestOneAddressCannotTakeEverySlot(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rejected := prometheus.NewCounter(prometheus.CounterOpts{Name: "rejected"})
	perAddr := prometheus.NewCounter(prometheus.CounterOpts{Name: "rejected_per_address"})
	l := connlimit.New(inner, connlimit.Options{Max: 4, PerAddress: 2, Rejected: rejected, RejectedPerAddress: perAddr})
	accepted := serve(t, l)

	// Loopback answers for all of 127.0.0.0/8 on Linux, so a second
	// source address needs no set-up.
	dialFrom := func(src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	dialFrom("127.0.0.1")
	first := <-accepted
	dialFrom("127.0.0.1")
	second := <-accepted
	expectRefused(t, net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}, inner.Addr().String())
	dialFrom("127.0.0.2")
	other := <-accepted
	if got := testutil.ToFloat64(perAddr); got != 1 || testutil.ToFloat64(rejected) != 0 {
		t.Errorf("rejected per address %v, in all %v; want 1 and 0", got, testutil.ToFloat64(rejected))
	}
	if l.Open() != 3 || l.Addresses() != 2 {
		t.Errorf("%d open from %d addresses, want 3 from 2", l.Open(), l.Addresses())
	}
	_ = first.Close()
	dialFrom("127.0.0.1")
	again := <-accepted
	for _, c := range []net.Conn{second, other, again} {
		_ = c.Close()
	}
	if l.Open() != 0 || l.Addresses() != 0 {
		t.Errorf("after every close: %d open from %d addresses, want none", l.Open(), l.Addresses())
	}
}

// TestTotalBoundReleasesTheAddress: a connection closed at the total
// bound does not count against its address afterwards.
func TestTotalBoundReleasesTheAddress(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rejected := prometheus.NewCounter(prometheus.CounterOpts{Name: "rejected"})
	l := connlimit.New(inner, connlimit.Options{Max: 1, PerAddress: 1, Rejected: rejected})
	accepted := serve(t, l)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
	c1, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	held := <-accepted
	expectRefused(t, d, inner.Addr().String())
	if testutil.ToFloat64(rejected) != 1 || l.Addresses() != 1 {
		t.Fatalf("rejected %v with %d addresses open, want 1 and 1", testutil.ToFloat64(rejected), l.Addresses())
	}
	_ = held.Close()
	c3, err := d.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	(<-accepted).Close()
}

// serve accepts from l until it is closed, handing each connection over.
func serve(t *testing.T, l *connlimit.Listener) <-chan net.Conn {
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
	return accepted
}
