package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// startLocked starts the loop that does all of the source's calls, so that
// a refresh is never made twice at once and Close has one thing to stop.
func (s *TokenSource) startLocked() {
	if s.started {
		return
	}
	s.started = true
	go s.run()
}

func (s *TokenSource) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		next := s.nextAt
		s.mu.Unlock()
		var timer <-chan time.Time
		if !next.IsZero() {
			if d := next.Sub(s.clock.Now()); d > 0 {
				timer = s.clock.After(d)
			} else {
				ready := make(chan time.Time, 1)
				ready <- next
				timer = ready
			}
		}
		kicked := false
		select {
		case <-s.stop:
			return
		case <-s.kick:
			kicked = true
		case <-timer:
		}
		s.step(kicked)
	}
}

// step makes one refresh attempt: a renewal while the lease can still be
// extended, else an issue. A kick (a Token call that found no fresh token)
// while the token is fresh after all needs none.
func (s *TokenSource) step(kicked bool) {
	s.mu.Lock()
	now := s.clock.Now()
	if kicked && s.freshLocked(now) != nil {
		s.mu.Unlock()
		return
	}
	s.attempting = true
	cur := s.cur
	renew := cur != nil && !s.rejected && now.Before(cur.Expiry()) && cur.Expiry().Before(cur.Lease.MaxExpireTime)
	if !renew && s.pendingKey == "" {
		s.pendingKey = newIdempotencyKey()
	}
	key := s.pendingKey
	s.mu.Unlock()

	var (
		tok *Token
		err error
	)
	if renew {
		tok, err = s.renew(cur)
		if tok == nil && err == nil {
			// Renewal can no longer extend the lease; replace it now.
			s.mu.Lock()
			if s.pendingKey == "" {
				s.pendingKey = newIdempotencyKey()
			}
			key = s.pendingKey
			s.mu.Unlock()
			renew = false
		}
	}
	if !renew {
		tok, err = s.issue(key)
	}

	s.mu.Lock()
	s.finishLocked(now, cur, tok, err, renew)
	retiring := s.retiring
	s.mu.Unlock()
	s.revokeRetiring(retiring)
}

// renew extends cur's lease. It returns no token and no error when the
// lease cannot be extended, and treats a lease that has ended (revoked by
// an operator, expired) the same way.
func (s *TokenSource) renew(cur *Token) (*Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.c.timeout)
	defer cancel()
	l, err := s.c.renew(ctx, cur.Lease.ID, s.opts.ttl, oneAttempt{})
	switch code := status.Code(err); {
	case code == codes.FailedPrecondition || code == codes.NotFound:
		s.log.Warn("the lease ended before it could be renewed; issuing another", "lease_id", cur.Lease.ID, "err", err)
		return nil, nil
	case err != nil:
		return nil, err
	case !l.ExpireTime.After(cur.Expiry()):
		return nil, nil
	}
	next := *cur
	next.Lease = *l
	next.Replayed = false
	return &next, nil
}

func (s *TokenSource) issue(key string) (*Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.c.timeout)
	defer cancel()
	req := issueRequest(IssueRequest{Purpose: s.purpose, TTL: s.opts.ttl, Labels: s.opts.labels, IdempotencyKey: key})
	return s.c.issue(ctx, req, oneAttempt{})
}

// finishLocked records an attempt's outcome, schedules the next one and
// wakes everyone waiting for it.
func (s *TokenSource) finishLocked(now time.Time, old, tok *Token, err error, renewed bool) {
	defer func() {
		s.attempting = false
		close(s.changed)
		s.changed = make(chan struct{})
	}()
	if err != nil {
		s.failLocked(now, err, renewed)
		return
	}
	if !renewed {
		s.pendingKey = ""
		if old != nil {
			s.retiring = append(s.retiring, old.Lease.ID)
		}
		s.obtained = now
		s.rejected = false
		s.log.Debug("issued", "lease_id", tok.Lease.ID, "expires", tok.Expiry(), "replaces", leaseID(old))
	} else {
		s.log.Debug("renewed", "lease_id", tok.Lease.ID, "expires", tok.Expiry())
	}
	s.cur = tok
	s.lastErr, s.failures = nil, 0
	if s.closed {
		return
	}
	s.fresh.Store(&freshToken{tok: tok, until: s.freshUntil(tok)})
	// Refresh at half to seven tenths of the time the token may still be
	// handed out, so that sources started together drift apart and a
	// failed refresh leaves time to retry before Token has nothing to give.
	left := s.freshUntil(tok).Sub(now)
	s.nextAt = now.Add(time.Duration(float64(left) * (0.5 + 0.2*rand.Float64())))
}

func (s *TokenSource) failLocked(now time.Time, err error, renewed bool) {
	s.lastErr = err
	s.failures++
	var se *StatusError
	errors.As(err, &se)
	if !renewed && answered(status.Code(err)) {
		// The broker refused the issue outright, so no lease exists for
		// the key; a spent key (AlreadyExists: the secret of its lease
		// can no longer be shown) must not be tried again either.
		if status.Code(err) == codes.AlreadyExists {
			s.log.Warn("an earlier issue's answer was lost and the broker cannot replay it; that lease lasts until it expires", "err", err)
		}
		s.pendingKey = ""
	}
	s.nextAt = now.Add(retryDelay(se, s.failures-1))
	s.log.Warn("refresh failed", "err", err, "failures", s.failures, "retry_in", s.nextAt.Sub(now))
}

// answered reports whether a failed call's code proves the broker refused
// it before doing anything, as opposed to a failure whose outcome is
// unknown (a timeout, a lost connection, an internal error).
func answered(c codes.Code) bool {
	switch c {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.FailedPrecondition, codes.Unauthenticated, codes.OutOfRange, codes.Unimplemented:
		return true
	}
	return false
}

// revokeRetiring revokes the leases handed over from. A failure leaves the
// lease for the next attempt, or Close, to try again; it ends at its
// expiry in any case.
func (s *TokenSource) revokeRetiring(ids []string) {
	for _, id := range ids {
		if s.revoke(id, "replaced by a new lease", oneAttempt{}) != nil {
			continue
		}
		s.mu.Lock()
		for i, x := range s.retiring {
			if x == id {
				s.retiring = append(s.retiring[:i:i], s.retiring[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
	}
}

func leaseID(t *Token) string {
	if t == nil {
		return ""
	}
	return t.Lease.ID
}
