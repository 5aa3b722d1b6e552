package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"

	"github.com/ztbroker/ztbroker/internal/httperr"
	"github.com/ztbroker/ztbroker/internal/scope"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// passHeaders are the response headers that reach the caller: the body's
// type and Central's rate-limit advice. Everything else, hop-by-hop
// headers included, stays behind.
var passHeaders = []string{"Content-Type", "Retry-After", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset"}

// forward sends the checked call upstream and relays the answer.
func (p *Proxy) forward(ctx context.Context, w http.ResponseWriter, pp *Purpose, d scope.Decision, c call, start time.Time) {
	up := pp.Upstream
	u := up.BaseURL + d.Path[len(up.StripPrefix):]
	if d.Query != "" {
		u += "?" + d.Query
	}
	var body io.Reader
	if d.Body != nil {
		body = bytes.NewReader(d.Body)
	}
	uctx := upstream.WithOperation(upstream.WithPriority(ctx, upstream.PriorityProxy), "proxy")
	req, err := http.NewRequestWithContext(uctx, d.Op.Method, u, body)
	if err != nil {
		// Only reachable with a malformed configured base URL.
		p.log.ErrorContext(ctx, "proxy: building the upstream request failed", "purpose", pp.Name, "err", err)
		httperr.Write(w, http.StatusInternalServerError, codes.Internal, "internal error")
		return
	}
	authorization, secret := up.credential()
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Accept", "application/json")
	if d.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sent := time.Now()
	resp, err := up.Client.Do(req)
	upstreamTime := time.Since(sent)
	c.latency = upstreamTime
	if err != nil {
		p.upstreamFailed(ctx, w, pp, c, err)
		return
	}
	defer resp.Body.Close()
	c.status = resp.StatusCode
	c.result = "ok"
	if resp.StatusCode >= 400 {
		c.result = "upstream_error"
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))

	h := w.Header()
	for _, k := range passHeaders {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	guard := []byte(secret)
	if resp.StatusCode/100 == 2 && pp.Scope.NeedsFilter(d.Op) {
		raw, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxResponseBytes+1))
		var out []byte
		switch {
		case err != nil:
			p.upstreamFailed(ctx, w, pp, c, err)
			return
		case int64(len(raw)) > p.cfg.MaxResponseBytes:
			p.withheld(ctx, w, pp, c, http.StatusBadGateway, msgTooLarge, "response too large")
			return
		}
		if out, err = pp.Scope.Filter(d.Op, raw); err != nil {
			p.withheld(ctx, w, pp, c, http.StatusBadGateway, msgUnfilterable, "list response could not be filtered")
			return
		}
		if len(guard) > 0 && bytes.Contains(out, guard) {
			p.withheld(ctx, w, pp, c, http.StatusBadGateway, msgUpstreamDown, "response carried the upstream credential")
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(out)))
		p.finish(ctx, pp, c, start, upstreamTime)
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
		return
	}
	if resp.ContentLength > p.cfg.MaxResponseBytes {
		p.withheld(ctx, w, pp, c, http.StatusBadGateway, msgTooLarge, "response too large")
		return
	}
	if resp.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	p.finish(ctx, pp, c, start, upstreamTime)
	w.WriteHeader(resp.StatusCode)
	gw := &guardWriter{w: w, secret: guard}
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(gw, io.LimitReader(resp.Body, p.cfg.MaxResponseBytes+1), *buf)
	copyBufs.Put(buf)
	if gw.leaked || n > p.cfg.MaxResponseBytes {
		// Headers are gone; dropping the connection is the only way to
		// tell the caller the body is not whole.
		p.log.ErrorContext(ctx, "proxy: response cut off", "purpose", pp.Name, "lease_id", c.lease.ID,
			"route", c.route, "credential_seen", gw.leaked, "bytes", n)
		panic(http.ErrAbortHandler)
	}
	if err != nil && ctx.Err() == nil {
		p.log.WarnContext(ctx, "proxy: relaying the response failed", "purpose", pp.Name, "lease_id", c.lease.ID, "err", err)
	}
}

// copyBufs hold the buffers that relay answers. io.Copy would allocate
// 32 KiB per call here (neither side offers ReadFrom or WriteTo), which
// on a small heap was most of what a call allocated and what made the
// garbage collector run every few dozen calls.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// finish records a forwarded call just before its answer goes out.
func (p *Proxy) finish(ctx context.Context, pp *Purpose, c call, start time.Time, upstreamTime time.Duration) {
	p.m.calls.WithLabelValues(pp.Name, c.route, strconv.Itoa(c.status)).Inc()
	p.m.added.WithLabelValues(pp.Name).Observe(max(time.Since(start)-upstreamTime, 0).Seconds())
	p.record(ctx, c)
}

// record audits a forwarded call: every one that may change something,
// and reads sampled.
func (p *Proxy) record(ctx context.Context, c call) {
	now := p.now()
	if c.method != http.MethodGet {
		p.audit.add(ctx, c.event(ActionCall, now, 0))
		return
	}
	if ok, skipped := p.sample.take(sampleKey{c.lease.ID, "read", c.route}, now); ok {
		p.audit.add(ctx, c.event(ActionRead, now, skipped))
	}
}

// withheld answers in place of an upstream response the caller must not
// see, and records the call, which did reach Central.
func (p *Proxy) withheld(ctx context.Context, w http.ResponseWriter, pp *Purpose, c call, status int, msg, why string) {
	p.log.ErrorContext(ctx, "proxy: upstream response withheld", "purpose", pp.Name, "lease_id", c.lease.ID,
		"route", c.route, "upstream_status", c.status, "why", why)
	c.detail = "withheld: " + why
	c.result = "withheld"
	p.m.calls.WithLabelValues(pp.Name, c.route, strconv.Itoa(status)).Inc()
	p.record(ctx, c)
	w.Header().Del("Content-Length")
	httperr.Write(w, status, codes.Unavailable, msg)
}

// upstreamFailed answers a call that got no response from Central. It may
// still have reached Central (a timeout), so it is recorded like a call.
func (p *Proxy) upstreamFailed(ctx context.Context, w http.ResponseWriter, pp *Purpose, c call, err error) {
	c.result = "upstream_error"
	status, code, msg := http.StatusBadGateway, codes.Unavailable, msgUpstreamDown
	switch {
	case ctx.Err() != nil:
		// The caller hung up and the upstream call was cancelled with it;
		// nobody is left to answer.
		c.status, c.detail = 499, "caller went away"
		p.m.calls.WithLabelValues(pp.Name, c.route, "canceled").Inc()
		p.record(ctx, c)
		return
	case upstream.RetryAfterOf(err) > 0:
		status, code, msg = http.StatusTooManyRequests, codes.ResourceExhausted, msgUpstreamBusy
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(upstream.RetryAfterOf(err))))
	case errors.Is(err, context.DeadlineExceeded):
		status, msg = http.StatusGatewayTimeout, msgUpstreamSlow
	}
	c.status = status
	p.log.WarnContext(ctx, "proxy: upstream call failed", "purpose", pp.Name, "lease_id", c.lease.ID, "route", c.route, "err", err)
	p.m.calls.WithLabelValues(pp.Name, c.route, strconv.Itoa(status)).Inc()
	p.record(ctx, c)
	httperr.Write(w, status, code, msg)
}

// guardWriter refuses to pass on the upstream secret: Central has no reason
// to echo it, so seeing it means something is badly wrong, and the
// response is cut off. It checks each chunk with the tail of the last, so
// a secret split across reads is still seen.
type guardWriter struct {
	w      io.Writer
	secret []byte
	tail   []byte
	leaked bool
}

func (g *guardWriter) Write(b []byte) (int, error) {
	if len(g.secret) > 0 {
		window := append(g.tail, b...)
		if bytes.Contains(window, g.secret) {
			g.leaked = true
			return 0, errors.New("proxy: upstream response carried the upstream credential")
		}
		keep := min(len(window), len(g.secret)-1)
		g.tail = append(g.tail[:0], window[len(window)-keep:]...)
	}
	return g.w.Write(b)
}
