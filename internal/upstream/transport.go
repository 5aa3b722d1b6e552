package upstream

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"
)

// timeoutTransport bounds a call from queueing to the end of its body. The
// deadline is released when the caller closes the body.
type timeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// limitTransport queues each call on the upstream's limiter and turns a 429
// into a pause for every caller, not just the one that was refused.
type limitTransport struct {
	next http.RoundTripper
	o    Options
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.o.Limiter.Wait(req.Context()); err != nil {
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	now := t.o.Clock.Now()
	pause := RetryAfterFromResponse(resp.Header, now)
	if pause <= 0 {
		pause = t.o.ThrottlePause
	}
	pause = min(pause, t.o.MaxPause)
	t.o.Limiter.PauseUntil(now.Add(pause))
	t.o.Logger.WarnContext(req.Context(), "upstream throttled; pausing calls",
		"upstream", t.o.Name, "operation", OperationFrom(req.Context()), "pause", pause)
	return resp, nil
}

// metricsTransport times the real round trip, after any queueing.
type metricsTransport struct {
	next http.RoundTripper
	m    *Metrics
	name string
}

func (t *metricsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			t.m.throttled.WithLabelValues(t.name).Inc()
		}
	}
	t.m.duration.WithLabelValues(t.name, OperationFrom(req.Context()), status).
		Observe(time.Since(start).Seconds())
	return resp, err
}
