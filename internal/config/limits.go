package config

import (
	"net"
	"time"
)

// Limits bound what any caller, authenticated or not, can hold of the
// broker: connections, streams, header bytes, and time spent silent.
type Limits struct {
	// MaxConnections bounds the open connections of each listener;
	// connections accepted beyond it are reset at once. Default 1024.
	MaxConnections int `json:"max_connections"`
	// MaxConnectionsPerAddress bounds the open connections of each
	// listener from any one remote IP address, so that one peer cannot
	// hold every slot; connections beyond it are reset at once. 0, the
	// default, sets no such bound: behind a proxy or a NAT every client
	// shares one address.
	MaxConnectionsPerAddress int `json:"max_connections_per_address"`
	// MaxHeaderBytes bounds a request's header list: gRPC metadata
	// (HTTP/2 MaxHeaderListSize) and HTTP request headers. Default 32 KiB.
	MaxHeaderBytes int `json:"max_header_bytes"`
	// HandshakeTimeout closes a connection that has not finished its TLS
	// and HTTP/2 handshake (gRPC) or sent its request headers (HTTP) in
	// time. Default 5s.
	HandshakeTimeout time.Duration `json:"handshake_timeout"`
	// MaxConcurrentStreams bounds the streams of one HTTP/2 connection,
	// gRPC or REST. Default 100.
	MaxConcurrentStreams int `json:"max_concurrent_streams"`
	// MaxUnauthenticatedStreams bounds the open streams of the gRPC
	// methods served without credentials (health Watch, reflection)
	// across the whole server. Default 1000.
	MaxUnauthenticatedStreams int `json:"max_unauthenticated_streams"`
	// KeepaliveMinTime is the shortest interval at which a gRPC client may
	// ping; one that pings more often is disconnected. Default 10s.
	KeepaliveMinTime time.Duration `json:"keepalive_min_time"`
	// MaxConnectionIdle closes a gRPC connection without RPCs, and an
	// idle HTTP keep-alive connection, after this long. Default 5m.
	MaxConnectionIdle time.Duration `json:"max_connection_idle"`
	// MaxConnectionAge sends a gRPC connection GOAWAY after this long, and
	// MaxConnectionAgeGrace lets its RPCs finish before it is closed.
	// Defaults 30m and 30s.
	MaxConnectionAge      time.Duration `json:"max_connection_age"`
	MaxConnectionAgeGrace time.Duration `json:"max_connection_age_grace"`
	// ReadyzCache is how long /readyz reuses one database check, so a
	// flood of probes costs one ping a period. Default 1s.
	ReadyzCache time.Duration `json:"readyz_cache"`
}

// Limits defaults.
const (
	DefaultMaxConnections            = 1024
	DefaultMaxHeaderBytes            = 32 << 10
	DefaultHandshakeTimeout          = 5 * time.Second
	DefaultMaxConcurrentStreams      = 100
	DefaultMaxUnauthenticatedStreams = 1000
	DefaultKeepaliveMinTime          = 10 * time.Second
	DefaultMaxConnectionIdle         = 5 * time.Minute
	DefaultMaxConnectionAge          = 30 * time.Minute
	DefaultMaxConnectionAgeGrace     = 30 * time.Second
	DefaultReadyzCache               = time.Second
)

func (l *Limits) applyDefaults() {
	orDefault(&l.MaxConnections, DefaultMaxConnections)
	orDefault(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	orDefault(&l.HandshakeTimeout, DefaultHandshakeTimeout)
	orDefault(&l.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
	orDefault(&l.MaxUnauthenticatedStreams, DefaultMaxUnauthenticatedStreams)
	orDefault(&l.KeepaliveMinTime, DefaultKeepaliveMinTime)
	orDefault(&l.MaxConnectionIdle, DefaultMaxConnectionIdle)
	orDefault(&l.MaxConnectionAge, DefaultMaxConnectionAge)
	orDefault(&l.MaxConnectionAgeGrace, DefaultMaxConnectionAgeGrace)
	orDefault(&l.ReadyzCache, DefaultReadyzCache)
}

func (v *validator) limits() {
	l := &v.c.Listen.Limits
	const p = "listen.limits."
	v.intRange(p+"max_connections", l.MaxConnections, 1, 1_000_000)
	v.intRange(p+"max_connections_per_address", l.MaxConnectionsPerAddress, 0, l.MaxConnections)
	v.intRange(p+"max_header_bytes", l.MaxHeaderBytes, 1024, 1<<20)
	v.intRange(p+"max_concurrent_streams", l.MaxConcurrentStreams, 1, 100_000)
	v.intRange(p+"max_unauthenticated_streams", l.MaxUnauthenticatedStreams, 1, 1_000_000)
	for _, d := range []struct {
		name    string
		v       time.Duration
		lo, hi  time.Duration
		loWords string
	}{
		{"handshake_timeout", l.HandshakeTimeout, 100 * time.Millisecond, 5 * time.Minute, "100ms"},
		{"keepalive_min_time", l.KeepaliveMinTime, time.Second, time.Hour, "1s"},
		{"max_connection_idle", l.MaxConnectionIdle, 100 * time.Millisecond, 24 * time.Hour, "100ms"},
		{"max_connection_age", l.MaxConnectionAge, time.Second, 7 * 24 * time.Hour, "1s"},
		{"max_connection_age_grace", l.MaxConnectionAgeGrace, 0, time.Hour, "0s"},
		{"readyz_cache", l.ReadyzCache, 0, time.Minute, "0s"},
	} {
		if d.v < d.lo || d.v > d.hi {
			v.add(p+d.name, "must be between %s and %s, got %s", d.loWords, d.hi, d.v)
		}
	}
}

// PlaintextExposed reports whether the listener at addr serves without
// TLS on an address other than loopback, where bearer credentials would
// cross the network in the clear.
func (c *Config) PlaintextExposed(addr string) bool {
	if c.Listen.TLS != nil {
		return false
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return !isLoopback(host)
}
