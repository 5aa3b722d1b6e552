package connlimit

import (
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Options are a listener's bounds and the metrics that follow them.
type Options struct {
	// Max bounds the open connections; it must be positive.
	Max int
	// PerAddress, when positive, bounds the open connections from any one
	// remote IP address, so that one peer cannot take every slot.
	PerAddress int
	// Open follows the open connections; Rejected counts those closed
	// at Max, RejectedPerAddress those closed at PerAddress. Any may be
	// nil.
	Open               prometheus.Gauge
	Rejected           prometheus.Counter
	RejectedPerAddress prometheus.Counter
}

// Listener is a net.Listener with at most Options.Max open connections,
// and at most Options.PerAddress from one address.
type Listener struct {
	net.Listener
	o     Options
	slots chan struct{}

	mu     sync.Mutex
	byAddr map[string]int
}

// New wraps l.
func New(l net.Listener, o Options) *Listener {
	return &Listener{Listener: l, o: o, slots: make(chan struct{}, o.Max), byAddr: map[string]int{}}
}

// Accept returns the next connection that fits under the bounds, closing
// every one that does not.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, ok := l.admitAddress(c)
		if !ok {
			inc(l.o.RejectedPerAddress)
			reject(c)
			continue
		}
		select {
		case l.slots <- struct{}{}:
			if l.o.Open != nil {
				l.o.Open.Inc()
			}
			return &conn{Conn: c, l: l, addr: addr}, nil
		default:
			l.releaseAddress(addr)
			inc(l.o.Rejected)
			reject(c)
		}
	}
}

// admitAddress counts c against its address's bound. The address is
// returned for the release, empty when no bound applies.
func (l *Listener) admitAddress(c net.Conn) (string, bool) {
	if l.o.PerAddress <= 0 {
		return "", true
	}
	addr := c.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr[addr] >= l.o.PerAddress {
		return "", false
	}
	l.byAddr[addr]++
	return addr, true
}

func (l *Listener) releaseAddress(addr string) {
	if addr == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Deleted at zero, so that the map holds only addresses with open
	// connections, however many have come and gone.
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

// Open is the number of connections holding a slot.
func (l *Listener) Open() int { return len(l.slots) }

// Addresses is the number of remote addresses with open connections, when
// a per-address bound is set.
func (l *Listener) Addresses() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byAddr)
}

// reject closes c with a reset rather than a FIN: the broker then keeps
// no TIME_WAIT state for a connection it never served, which under a peer
// reconnecting as fast as it is closed would pile up by the hundred
// thousand.
func reject(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func inc(c prometheus.Counter) {
	if c != nil {
		c.Inc()
	}
}

type conn struct {
	net.Conn
	l    *Listener
	addr string
	once sync.Once
}

// Close frees the connection's slot once, however often it is called.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		<-c.l.slots
		c.l.releaseAddress(c.addr)
		if c.l.o.Open != nil {
			c.l.o.Open.Dec()
		}
	})
	return err
}
