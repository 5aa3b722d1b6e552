package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"

	"github.com/ztbroker/ztbroker/internal/httperr"
	"github.com/ztbroker/ztbroker/internal/scope"
	"github.com/ztbroker/ztbroker/internal/store"
)

// Upstream is where one upstream's proxied calls go.
type Upstream struct {
	// Name labels logs ("new_central", "legacy").
	Name string
	// BaseURL is the upstream's configured base. For Legacy it already ends
	// in the API root, so StripPrefix ("/api/v1") comes off the checked
	// path first; for New Central StripPrefix is empty.
	BaseURL     string
	StripPrefix string
	// Authorization is the full header value of the broker's own
	// credential for this upstream. It goes on forwarded requests and
	// nowhere else.
	Authorization string
	// Secret is the credential alone, for the response guard.
	Secret string
	// Credential, when set, is called on each request instead of reading
	// Authorization and Secret: the admin key can be rotated under a
	// running proxy.
	Credential func() (authorization, secret string)
	// Client carries the upstream's shared limiter, timeout, metrics and
	// tracing (upstream.NewHTTPClient).
	Client *http.Client
}

// Purpose is one proxy purpose.
type Purpose struct {
	Name     string
	Scope    *scope.Scope
	Upstream *Upstream
	// Limiter is the purpose's share of the upstream's rate limit.
	Limiter *rate.Limiter
}

// Config holds the proxy's dependencies. Store, Purposes and Logger are
// required.
type Config struct {
	Store    store.Store
	Purposes []*Purpose
	Logger   *slog.Logger
	// Registerer receives the metrics; nil records none.
	Registerer     prometheus.Registerer
	TracerProvider trace.TracerProvider
	// Now defaults to time.Now; it decides expiry, like the broker's.
	Now func() time.Time
	// MaxResponseBytes bounds a response body; default 16 MiB.
	MaxResponseBytes int64
	// ReadAuditInterval samples reads and refusals; default one minute.
	ReadAuditInterval time.Duration
	// AuditQueue is how many audit events may wait to be written; default
	// 1024.
	AuditQueue int
}

// Proxy serves /zt/. It is an http.Handler with Start and Stop for its
// audit writer.
type Proxy struct {
	cfg      Config
	purposes map[string]*Purpose
	log      *slog.Logger
	now      func() time.Time
	m        *metrics
	tracer   trace.Tracer
	tracing  bool
	audit    *auditWriter
	sample   *sampler
}

// New checks cfg and builds a Proxy.
func New(cfg Config) (*Proxy, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("proxy: Store is required")
	case cfg.Logger == nil:
		return nil, errors.New("proxy: Logger is required")
	}
	p := &Proxy{cfg: cfg, purposes: make(map[string]*Purpose, len(cfg.Purposes)), log: cfg.Logger, now: cfg.Now}
	if cfg.Now == nil {
		p.now = time.Now
	}
	for _, pp := range cfg.Purposes {
		switch {
		case pp.Name == "" || pp.Scope == nil || pp.Upstream == nil || pp.Limiter == nil:
			return nil, fmt.Errorf("proxy: purpose %q needs a name, a scope, an upstream and a limiter", pp.Name)
		case pp.Upstream.Client == nil || (pp.Upstream.Authorization == "" && pp.Upstream.Credential == nil):
			return nil, fmt.Errorf("proxy: purpose %q: upstream %q needs a client and a credential", pp.Name, pp.Upstream.Name)
		case p.purposes[pp.Name] != nil:
			return nil, fmt.Errorf("proxy: purpose %q twice", pp.Name)
		}
		p.purposes[pp.Name] = pp
	}
	var err error
	if p.m, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("proxy: metrics: %w", err)
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	p.tracer = tp.Tracer("github.com/ztbroker/ztbroker/internal/proxy")
	_, off := tp.(noop.TracerProvider)
	p.tracing = !off
	if p.cfg.MaxResponseBytes <= 0 {
		p.cfg.MaxResponseBytes = 16 << 20
	}
	if p.cfg.ReadAuditInterval <= 0 {
		p.cfg.ReadAuditInterval = time.Minute
	}
	p.audit = newAuditWriter(cfg.Store, cfg.Logger, cmp.Or(cfg.AuditQueue, 1024), p.m.dropped.Inc)
	p.sample = newSampler(p.cfg.ReadAuditInterval)
	return p, nil
}

// Start runs the audit writer until ctx ends or Stop is called.
func (p *Proxy) Start(ctx context.Context) { p.audit.start(ctx) }

// Stop writes the audit events still queued and stops the writer. Call it
// after the HTTP server has drained, so no call is left unrecorded.
func (p *Proxy) Stop() { p.audit.stop() }

// Messages a caller may see, besides the scope's.
const (
	msgUnknownPurpose = "no proxy purpose at this path"
	msgBadCredential  = "missing or invalid credentials: send the lease's broker credential as Authorization: Bearer <credential>"
	msgLeaseEnded     = "the lease of this credential has ended"
	msgStoreDown      = "the broker cannot check credentials right now; retry"
	msgRateLimited    = "this purpose's share of the ZeroTier API rate limit is used up; retry after the delay given"
	msgUpstreamBusy   = "the ZeroTier API rate limit is paused; retry after the delay given"
	msgUpstreamDown   = "the ZeroTier API could not be reached; retry"
	msgUpstreamSlow   = "the ZeroTier API did not answer in time"
	msgUnfilterable   = "the ZeroTier API answered a list in an unexpected shape; it is withheld"
	msgTooLarge       = "the ZeroTier API's answer exceeds the broker's limit"
)

// ServeHTTP proxies one call.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, span := r.Context(), trace.SpanFromContext(r.Context())
	if p.tracing {
		// Only when spans go somewhere: starting one, and the request
		// copy that carries it, cost every call otherwise.
		ctx, span = p.tracer.Start(ctx, "proxy")
		defer span.End()
		r = r.WithContext(ctx)
	}

	name, target, ok := splitTarget(r.RequestURI)
	pp := p.purposes[name]
	if !ok || pp == nil {
		p.m.denied.WithLabelValues("unknown", "unknown_purpose").Inc()
		msg := msgUnknownPurpose
		if ok && printableName(name) {
			msg = fmt.Sprintf("no proxy purpose named %q", name)
		}
		httperr.Write(w, http.StatusNotFound, codes.NotFound, msg)
		return
	}
	span.SetAttributes(attribute.String("ztbroker.purpose", pp.Name))

	l, status, msg := p.authenticate(ctx, r, pp)
	if l == nil {
		p.m.denied.WithLabelValues(pp.Name, "unauthenticated").Inc()
		p.m.calls.WithLabelValues(pp.Name, "none", strconv.Itoa(status)).Inc()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ztbroker"`)
			httperr.Write(w, status, codes.Unauthenticated, msg)
		} else {
			httperr.Write(w, status, codes.Unavailable, msg)
		}
		return
	}
	span.SetAttributes(attribute.String("ztbroker.lease_id", l.ID))

	body, tooLarge := readBody(r, pp.Scope.MaxBody())
	var d scope.Decision
	if tooLarge {
		d = scope.Decision{Status: http.StatusRequestEntityTooLarge, Kind: "too_large", Message: "request body exceeds the limit"}
	} else {
		d = pp.Scope.Decide(scope.Request{
			Method: r.Method, Target: target, Header: r.Header, Body: body,
			Lease: scope.Lease{ID: l.ID, Owner: l.Owner, Labels: l.Labels},
		})
	}
	c := call{lease: l, upstream: pp.Upstream.Name, method: r.Method, route: "an unsupported route"}
	if d.Op != nil {
		c.route, c.resources = d.Op.Template, d.Resources
		if span.IsRecording() {
			span.SetAttributes(attribute.String("http.route", d.Op.Template))
			span.SetName("proxy " + d.Op.String())
		}
	}
	if !d.Allowed {
		c.status, c.result, c.detail = d.Status, "denied", d.Kind
		p.refuse(ctx, pp, c, d.Kind, d.Status, d.Message, w)
		return
	}

	now := p.now()
	res := pp.Limiter.ReserveN(now, 1)
	if wait := res.DelayFrom(now); !res.OK() || wait > 0 {
		res.CancelAt(now)
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(wait)))
		c.status, c.result, c.detail = http.StatusTooManyRequests, "denied", "rate_limited"
		p.refuse(ctx, pp, c, "rate_limited", http.StatusTooManyRequests, msgRateLimited, w)
		return
	}
	p.forward(ctx, w, pp, d, c, start)
}

// refuse answers a call the broker will not forward, counts it, and
// records it in the audit trail, sampled per lease and reason.
func (p *Proxy) refuse(ctx context.Context, pp *Purpose, c call, reason string, status int, msg string, w http.ResponseWriter) {
	p.m.denied.WithLabelValues(pp.Name, reason).Inc()
	p.m.calls.WithLabelValues(pp.Name, routeLabel(c.route), strconv.Itoa(status)).Inc()
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int("http.response.status_code", status), attribute.String("ztbroker.proxy.refused", reason))
	now := p.now()
	if ok, skipped := p.sample.take(sampleKey{c.lease.ID, "deny " + reason, c.route}, now); ok {
		p.audit.add(ctx, c.event(ActionDeny, now, skipped))
	}
	code := codes.PermissionDenied
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		code = codes.InvalidArgument
	case http.StatusTooManyRequests:
		code = codes.ResourceExhausted
	}
	httperr.Write(w, status, code, msg)
}

func routeLabel(route string) string {
	if route == "" || route[0] != '/' {
		return "none"
	}
	return route
}

func retrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// readBody reads at most limit bytes, reporting a body over the limit
// without reading the rest.
func readBody(r *http.Request, limit int) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, false
	}
	if r.ContentLength > int64(limit) {
		return nil, true
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil || len(b) > limit {
		// A body that cannot be read whole is refused like a large one.
		return nil, true
	}
	return b, false
}

// credential returns the header value and the secret to forward with.
func (u *Upstream) credential() (authorization, secret string) {
	if u.Credential != nil {
		return u.Credential()
	}
	return u.Authorization, u.Secret
}
