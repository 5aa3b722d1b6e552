package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/proxy"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
)

type proxyDeps struct {
	cfg       *config.Config
	upstreams *upstreams
	store     store.Store
	log       *slog.Logger
	reg       prometheus.Registerer
	tracer    trace.TracerProvider
	now       func() time.Time
	base      *http.Client
	publicURL string
}

// buildProxy makes the scoped proxy for every purpose with delivery proxy.
// Each upstream gets one forwarding client, on the limiter its issuers
// use, presenting the broker's own credential for that upstream — read on
// each call, so a rotated key is used as soon as it is in place.
func buildProxy(d proxyDeps) (*proxy.Proxy, error) {
	f := d.cfg
	var ups = map[string]*proxy.Upstream{}
	upstreamFor := func(name string) (*proxy.Upstream, error) {
		if u := ups[name]; u != nil {
			return u, nil
		}
		rt := d.upstreams.byName(name)
		if rt == nil {
			return nil, fmt.Errorf("upstream %q is not configured", name)
		}
		u := &proxy.Upstream{Name: name, BaseURL: rt.baseURL, Credential: rt.authorization}
		if rt.kind == config.UpstreamLegacy {
			u.StripPrefix = "/api/v1"
		}
		o := upstream.Options{Name: name, Limiter: rt.limiter, Timeout: rt.timeout}
		o.Registerer, o.Logger, o.TracerProvider = d.reg, d.log, d.tracer
		hc, err := upstream.NewHTTPClient(d.base, o)
		if err != nil {
			return nil, err
		}
		u.BaseURL = trimSlash(u.BaseURL)
		u.Client = hc
		ups[name] = u
		return u, nil
	}
	var ps []*proxy.Purpose
	for _, p := range f.Purposes {
		if !p.IsProxy() {
			continue
		}
		sc, err := CompileScope(p, f.Proxy)
		if err != nil {
			return nil, fmt.Errorf("purpose %q: %w", p.Name, err)
		}
		u, err := upstreamFor(p.Upstream.Name)
		if err != nil {
			return nil, fmt.Errorf("purpose %q: %w", p.Name, err)
		}
		ps = append(ps, &proxy.Purpose{
			Name: p.Name, Scope: sc, Upstream: u,
			Limiter: rate.NewLimiter(rate.Limit(p.Scope.RateLimit), p.Scope.Burst),
		})
	}
	return proxy.New(proxy.Config{
		Store: d.store, Purposes: ps, Logger: d.log, Registerer: d.reg, TracerProvider: d.tracer, Now: d.now,
		MaxResponseBytes: f.Proxy.MaxResponseBytes, ReadAuditInterval: f.Proxy.ReadAuditInterval,
	})
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// publicURL is where callers reach the HTTP listener: the configured
// proxy.public_url, or the bound address.
func publicURL(f *config.Config, httpAddr string, tls bool) string {
	if f.Proxy.PublicURL != "" {
		return f.Proxy.PublicURL
	}
	if tls {
		return "https://" + httpAddr
	}
	return "http://" + httpAddr
}

// proxyAuthScheme is what a proxy lease's holder sends: what its SDK sends
// to the upstream it thinks it talks to.
func proxyAuthScheme(kind string) string {
	if kind == config.UpstreamLegacy {
		return legacy.SchemeToken
	}
	return "Bearer"
}

// warnUnreachableProxy says so when proxy leases would be pointed at a
// wildcard address, which no caller can reach.
func warnUnreachableProxy(log *slog.Logger, f *config.Config, addr net.Addr) {
	if f.Proxy.PublicURL != "" {
		return
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return
	}
	for _, p := range f.Purposes {
		if p.IsProxy() {
			log.Warn("proxy.public_url is not set and the HTTP listener is on a wildcard address: "+
				"proxy leases will be given an api_base_url callers cannot reach; set proxy.public_url",
				"listen", addr.String())
			return
		}
	}
}
