package clientcmd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ztbroker/ztbroker/internal/cli/ciauth"
	"github.com/ztbroker/ztbroker/internal/errs"
)

const (
	initialBackoff = 250 * time.Millisecond
	maxBackoff     = 10 * time.Second
)

// invoker sends each call with a fresh credential and retries the failures
// that a later attempt can cure, until the call's context ends. Requests are
// resent unchanged, so an IssueToken keeps its idempotency key across
// attempts and the broker mints at most one token.
type invoker struct {
	creds ciauth.Source
	clock Clock
}

func (iv *invoker) intercept(ctx context.Context, method string, req, reply any,
	cc *grpc.ClientConn, next grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	var last *callError
	for attempt := 1; ; attempt++ {
		r := iv.once(ctx, method, req, reply, cc, next, opts)
		if r.err == nil {
			return nil
		}
		var ce *callError
		if !errors.As(r.err, &ce) {
			return r.err
		}
		ce.attempts = attempt
		if !r.retry {
			// A call cut short by the deadline says less than the
			// transient failure that used the time up.
			if last != nil && ctx.Err() != nil {
				last.note = "gave up after " + attempts(attempt)
				return last
			}
			return ce
		}
		last = ce
		delay := r.delay
		if !r.serverDelay {
			delay = backoff(attempt - 1)
		}
		// Context deadlines are wall-clock times, whatever clock paces us.
		if dl, ok := ctx.Deadline(); ok && delay > time.Until(dl) {
			ce.note = fmt.Sprintf("gave up after %s; the next retry, in %s, would pass the deadline",
				attempts(attempt), delay.Round(time.Millisecond))
			return ce
		}
		select {
		case <-ctx.Done():
			ce.note = "gave up after " + attempts(attempt)
			return ce
		case <-iv.clock.After(delay):
		}
	}
}

// attempt is how one try ended.
type attempt struct {
	err   error
	retry bool
	// delay is the broker's own retry delay, valid when serverDelay is set.
	delay       time.Duration
	serverDelay bool
}

func (iv *invoker) once(ctx context.Context, method string, req, reply any,
	cc *grpc.ClientConn, next grpc.UnaryInvoker, opts []grpc.CallOption) attempt {
	if iv.creds != nil {
		tok, err := iv.creds.Token(ctx)
		if err != nil {
			if errors.Is(err, errs.Unavailable) {
				msg := strings.TrimPrefix(err.Error(), errs.Unavailable.Error()+": ")
				return attempt{err: &callError{st: status.New(codes.Unavailable, msg)}, retry: true}
			}
			return attempt{err: err}
		}
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	var header, trailer metadata.MD
	opts = append(opts[:len(opts):len(opts)], grpc.Header(&header), grpc.Trailer(&trailer))
	err := next(ctx, method, req, reply, cc, opts...)
	if err == nil {
		return attempt{}
	}
	st := status.Convert(err)
	a := attempt{err: &callError{st: st}}
	switch st.Code() {
	// Aborted is the broker losing a race on the lease row; every call it
	// can answer that way is safe to repeat.
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		a.retry = true
		a.delay, a.serverDelay = serverDelay(st, header, trailer)
	}
	return a
}

// backoff is the jittered delay before attempt n+1: between half and all of
// initialBackoff·2ⁿ, capped at maxBackoff.
func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 6 {
		d = min(initialBackoff<<n, maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// serverDelay is the retry delay the broker asked for, from RetryInfo in
// the status details or a retry-after header or trailer (seconds or an HTTP
// date).
func serverDelay(st *status.Status, header, trailer metadata.MD) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return max(ri.GetRetryDelay().AsDuration(), 0), true
		}
	}
	for _, md := range []metadata.MD{trailer, header} {
		for _, v := range md.Get("retry-after") {
			v = strings.TrimSpace(v)
			if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
				return time.Duration(secs) * time.Second, true
			}
			if t, err := http.ParseTime(v); err == nil {
				return max(time.Until(t), 0), true
			}
		}
	}
	return 0, false
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}
