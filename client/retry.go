package client

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

	"github.com/ztbroker/ztbroker/client/credential"
)

// The retry rules, shared by every call of a Client, by the token source's
// own pacing and by the broker command line: only UNAVAILABLE,
// RESOURCE_EXHAUSTED and ABORTED are retried, after the broker's requested
// delay (RetryInfo, or a retry-after header) or else a jittered
// exponential backoff, and never past the caller's deadline.
const (
	initialBackoff = 250 * time.Millisecond
	maxBackoff     = 10 * time.Second
)

// invoker sends each call with a fresh credential and retries the failures
// that a later attempt can cure, until the call's context ends. Requests
// are resent unchanged, so an IssueToken keeps its idempotency key across
// attempts and the broker mints at most one token.
type invoker struct {
	creds credential.Source
	clock Clock
}

// oneAttempt is a call option that turns retrying off for one call: the
// token source paces its background attempts itself, so that a caller of
// Token is never kept waiting behind a retry loop.
type oneAttempt struct{ grpc.EmptyCallOption }

func (iv *invoker) intercept(ctx context.Context, method string, req, reply any,
	cc *grpc.ClientConn, next grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	single := false
	for _, o := range opts {
		if _, ok := o.(oneAttempt); ok {
			single = true
		}
	}
	var last *StatusError
	for attempt := 1; ; attempt++ {
		err := iv.once(ctx, method, req, reply, cc, next, opts)
		if err == nil {
			return nil
		}
		var se *StatusError
		if !errors.As(err, &se) {
			return err
		}
		se.attempts = attempt
		if !se.retry || single {
			// A call cut short by the deadline says less than the
			// transient failure that used the time up.
			if last != nil && ctx.Err() != nil {
				last.note = "gave up after " + attempts(attempt)
				return last
			}
			return se
		}
		last = se
		delay := retryDelay(se, attempt-1)
		// Context deadlines are wall-clock times, whatever clock paces us.
		if dl, ok := ctx.Deadline(); ok && delay > time.Until(dl) {
			se.note = fmt.Sprintf("gave up after %s; the next retry, in %s, would pass the deadline",
				attempts(attempt), delay.Round(time.Millisecond))
			return se
		}
		select {
		case <-ctx.Done():
			se.note = "gave up after " + attempts(attempt)
			return se
		case <-iv.clock.After(delay):
		}
	}
}

// once makes one attempt and classifies its failure.
func (iv *invoker) once(ctx context.Context, method string, req, reply any,
	cc *grpc.ClientConn, next grpc.UnaryInvoker, opts []grpc.CallOption) error {
	if iv.creds != nil {
		tok, err := iv.creds.Token(ctx)
		if err != nil {
			if errors.Is(err, credential.ErrUnavailable) {
				msg := strings.TrimPrefix(err.Error(), credential.ErrUnavailable.Error()+": ")
				return &StatusError{st: status.New(codes.Unavailable, msg), retry: true}
			}
			return err
		}
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	var header, trailer metadata.MD
	opts = append(opts[:len(opts):len(opts)], grpc.Header(&header), grpc.Trailer(&trailer))
	err := next(ctx, method, req, reply, cc, opts...)
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	se := &StatusError{st: st}
	switch st.Code() {
	// Aborted is the broker losing a race on the lease row; every call it
	// can answer that way is safe to repeat.
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		se.retry = true
		se.delay, se.serverDelay = serverDelay(st, header, trailer)
	}
	return se
}

// retryDelay is how long to wait before retry n+1 after se: the broker's
// own delay when it gave one, else the backoff.
func retryDelay(se *StatusError, n int) time.Duration {
	if se != nil && se.serverDelay {
		return se.delay
	}
	return backoff(n)
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
