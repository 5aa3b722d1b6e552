package connlimit

import (
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Listener is a net.Listener with at most Max open connections.
type Listener struct {
	net.Listener
	slots chan struct{}
	// open and rejected may be nil.
	open     prometheus.Gauge
	rejected prometheus.Counter
}

// New wraps l. open follows the number of open connections and rejected
// counts those closed for want of a slot; either may be nil.
func New(l net.Listener, max int, open prometheus.Gauge, rejected prometheus.Counter) *Listener {
	return &Listener{Listener: l, slots: make(chan struct{}, max), open: open, rejected: rejected}
}

// Accept returns the next connection that fits under the bound, closing
// every one that does not.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			if l.open != nil {
				l.open.Inc()
			}
			return &conn{Conn: c, l: l}, nil
		default:
			if l.rejected != nil {
				l.rejected.Inc()
			}
			_ = c.Close()
		}
	}
}

// Open is the number of connections holding a slot.
func (l *Listener) Open() int { return len(l.slots) }

type conn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

// Close frees the connection's slot once, however often it is called.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		<-c.l.slots
		if c.l.open != nil {
			c.l.open.Dec()
		}
	})
	return err
}
