package server

import (
	"log"
	"log/slog"
	"net"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/connlimit"
)

// transportMetrics count what happens below the API: connections held
// and refused, TLS handshakes that failed, credentials refused, and
// unauthenticated streams turned away. Each used to be a WARN line per
// event, or nothing at all.
type transportMetrics struct {
	open          *prometheus.GaugeVec
	connsRejected *prometheus.CounterVec
	// connsRejectedPerAddress is its own metric rather than a label on
	// connsRejected, so that the alerts and dashboards on that one keep
	// their meaning.
	connsRejectedPerAddress *prometheus.CounterVec
	handshakeErrors         *prometheus.CounterVec
	authFailures            *prometheus.CounterVec
	streamsRefused          prometheus.Counter
}

func newTransportMetrics(reg prometheus.Registerer) (*transportMetrics, error) {
	m := &transportMetrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ztbroker_connections_open",
			Help: "Open connections by listener (grpc, http, ops).",
		}, []string{"listener"}),
		connsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_connections_rejected_total",
			Help: "Connections closed on accept because the listener held listen.limits.max_connections already.",
		}, []string{"listener"}),
		connsRejectedPerAddress: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_connections_rejected_per_address_total",
			Help: "Connections closed on accept because their remote address held listen.limits.max_connections_per_address already.",
		}, []string{"listener"}),
		handshakeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_tls_handshake_errors_total",
			Help: "TLS handshakes that failed or timed out, by listener.",
		}, []string{"listener"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_auth_failures_total",
			Help: "Requests refused before reaching the API for their credentials, by transport and reason (missing, invalid, unavailable).",
		}, []string{"transport", "reason"}),
		streamsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ztbroker_unauthenticated_streams_refused_total",
			Help: "Streams of unauthenticated gRPC methods (health Watch, reflection) refused at listen.limits.max_unauthenticated_streams.",
		}),
	}
	for _, c := range []prometheus.Collector{m.open, m.connsRejected, m.connsRejectedPerAddress, m.handshakeErrors, m.authFailures, m.streamsRefused} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// limitListener bounds the listener's open connections, in all and from
// one address (perAddress 0: no such bound).
func (m *transportMetrics) limitListener(l net.Listener, name string, max, perAddress int) net.Listener {
	return connlimit.New(l, connlimit.Options{
		Max: max, PerAddress: perAddress,
		Open:               m.open.WithLabelValues(name),
		Rejected:           m.connsRejected.WithLabelValues(name),
		RejectedPerAddress: m.connsRejectedPerAddress.WithLabelValues(name),
	})
}

func (m *transportMetrics) authFailed(transport string) func(auth.FailureReason) {
	return func(r auth.FailureReason) { m.authFailures.WithLabelValues(transport, string(r)).Inc() }
}

// grpcLimitOptions are the server options that bound what one connection
// can hold: streams, header bytes, time to finish its handshake, ping
// rate, idleness and age.
func grpcLimitOptions(l config.Limits) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxConcurrentStreams(uint32(l.MaxConcurrentStreams)),
		grpc.MaxHeaderListSize(uint32(l.MaxHeaderBytes)),
		grpc.ConnectionTimeout(l.HandshakeTimeout),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: l.KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     l.MaxConnectionIdle,
			MaxConnectionAge:      l.MaxConnectionAge,
			MaxConnectionAgeGrace: l.MaxConnectionAgeGrace,
		}),
	}
}

// unauthenticatedStreams bounds, across the server, the open streams of
// the methods served without credentials. Each stream of health Watch
// holds a goroutine and buffers for as long as the client likes; 20,000
// of them from one unauthenticated connection took the broker from 47 MB
// to 310 MB.
func unauthenticatedStreams(max int, exempt []string, refused prometheus.Counter) grpc.StreamServerInterceptor {
	slots := make(chan struct{}, max)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if !hasPrefix(info.FullMethod, exempt) {
			return handler(srv, ss)
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			return handler(srv, ss)
		default:
			refused.Inc()
			return status.Error(codes.ResourceExhausted, "too many open unauthenticated streams; retry later")
		}
	}
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// countedCreds counts and logs at debug the TLS handshakes that fail,
// which grpc-go otherwise only reports through its own logger.
type countedCreds struct {
	credentials.TransportCredentials
	failed func(error)
}

func (c countedCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		c.failed(err)
	}
	return conn, info, err
}

func (c countedCreds) Clone() credentials.TransportCredentials {
	return countedCreds{TransportCredentials: c.TransportCredentials.Clone(), failed: c.failed}
}

func (m *transportMetrics) handshakeFailed(log *slog.Logger, listener string) func(error) {
	counter := m.handshakeErrors.WithLabelValues(listener)
	return func(err error) {
		counter.Inc()
		log.Debug("TLS handshake failed", "listener", listener, "err", err)
	}
}

// httpErrorLog is the HTTP server's ErrorLog. It demotes TLS handshake
// errors, which anyone who opens a connection can cause, to a counted
// debug line; anything else stays a warning.
func httpErrorLog(log *slog.Logger, failed func(error)) *log.Logger {
	return logLogger(func(line string) {
		if strings.Contains(line, "TLS handshake error") {
			failed(errorText(strings.TrimSpace(line)))
			return
		}
		log.Warn("http server", "msg", strings.TrimSpace(line))
	})
}

type errorText string

func (e errorText) Error() string { return string(e) }

type lineWriter func(string)

func (w lineWriter) Write(p []byte) (int, error) {
	w(string(p))
	return len(p), nil
}

func logLogger(f func(string)) *log.Logger { return log.New(lineWriter(f), "", 0) }
