package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ztbroker/ztbroker/internal/config"
)

// newHTTPServer applies the listener limits to one HTTP server: header
// bytes, the time to send them (which also bounds a TLS handshake), and
// idle keep-alive connections; with TLS, HTTP/2 streams per connection.
func newHTTPServer(h http.Handler, l config.Limits, log *slog.Logger, tm *transportMetrics, name string) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.HandshakeTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       l.MaxConnectionIdle,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: l.MaxConcurrentStreams},
		ErrorLog:          httpErrorLog(log, tm.handshakeFailed(log, name)),
	}
}

// listen binds every listener, each bounded to max_connections open
// connections (and max_connections_per_address from one address);
// closers release them if a later step fails. The HTTP listener gets TLS
// at the end of Complete, once the config is built.
func (s *Server) listen(f *config.Config, tm *transportMetrics) error {
	limits := f.Listen.Limits
	bind := func(name, addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", name, err)
		}
		s.closers.push(func() error { _ = l.Close(); return nil })
		return tm.limitListener(l, name, limits.MaxConnections, limits.MaxConnectionsPerAddress), nil
	}
	var err error
	if s.grpcLis, err = bind("grpc", f.Listen.GRPCAddr); err != nil {
		return err
	}
	if s.httpLis, err = bind("http", f.Listen.HTTPAddr); err != nil {
		return err
	}
	if f.Listen.OpsAddr != "" {
		if s.opsLis, err = bind("ops", f.Listen.OpsAddr); err != nil {
			return err
		}
	}
	return nil
}

// OpsAddr is the ops listener's bound address, or "" without one.
func (s *Server) OpsAddr() string {
	if s.opsLis == nil {
		return ""
	}
	return s.opsLis.Addr().String()
}
