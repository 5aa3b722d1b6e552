package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// rejectGrace is how old a token must be before a 401 from the API makes
// the source replace it: an API that refuses every token would otherwise
// have the source mint one per request.
const rejectGrace = 5 * time.Second

// TokenSource keeps one valid ZeroTier token for a purpose. Token returns
// it, valid for at least the source's minimum validity; in the background
// the source renews the lease at a jittered fraction (half to seven
// tenths) of the time its token may still be handed out, and when the lease cannot be renewed
// any further — it reached its maximum lifetime, it was revoked, or the API
// refused its token — issues a new lease, hands over to it and revokes the
// old one. So a source holds one lease, and two only for the moment of a
// hand-over. Close revokes what it holds.
//
// Every issue carries its own idempotency key, kept until the broker has
// answered it one way or the other, so an issue retried after a lost
// answer gets the same lease back rather than a second one.
//
// When the broker cannot be reached, Token keeps returning the current
// token while it is valid for the minimum validity, and after that returns
// the last failure, at once, instead of waiting: the source retries in the
// background with backoff (or the broker's requested delay) and Token
// succeeds again as soon as a refresh does.
//
// A TokenSource is safe for concurrent use. It starts working at the
// first Token call.
type TokenSource struct {
	c       *Client
	purpose string
	opts    sourceOptions
	clock   Clock
	log     *slog.Logger

	// fresh is the token Token may hand out without locking, and until
	// when; nil when there is none.
	fresh atomic.Pointer[freshToken]

	mu      sync.Mutex
	started bool
	closed  bool
	// cur is the token of the lease the source holds; obtained is when it
	// was issued, by the source's clock.
	cur      *Token
	obtained time.Time
	// rejected is set when the API refused cur's token.
	rejected bool
	// retiring are leases handed over from, still to be revoked.
	retiring []string
	// pendingKey is the idempotency key of an issue whose outcome is not
	// known yet; the next issue reuses it.
	pendingKey string
	lastErr    error
	failures   int
	// nextAt is when the loop acts next; zero means only when kicked.
	nextAt     time.Time
	attempting bool
	// changed is closed, and replaced, after every attempt.
	changed chan struct{}

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

type freshToken struct {
	tok   *Token
	until time.Time
}

// TokenSource returns a source of tokens for purpose. It makes no call
// until its first Token. The client's Close closes it too.
func (c *Client) TokenSource(purpose string, opts ...SourceOption) *TokenSource {
	o := sourceOptions{minValidity: DefaultMinValidity}
	for _, opt := range opts {
		opt(&o)
	}
	s := &TokenSource{
		c:       c,
		purpose: purpose,
		opts:    o,
		clock:   c.clock,
		log:     c.log.With("purpose", purpose),
		changed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		s.closed = true
	} else {
		c.sources = append(c.sources, s)
	}
	return s
}

// Token returns a token valid for at least the source's minimum validity.
// The first call issues one and waits for it, within ctx; later calls
// return at once.
func (s *TokenSource) Token(ctx context.Context) (*Token, error) {
	if f := s.fresh.Load(); f != nil && s.clock.Now().Before(f.until) {
		return f.tok, nil
	}
	return s.slowToken(ctx)
}

func (s *TokenSource) slowToken(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	s.startLocked()
	now := s.clock.Now()
	if tok := s.freshLocked(now); tok != nil {
		s.mu.Unlock()
		return tok, nil
	}
	if s.lastErr != nil && !s.attempting && now.Before(s.nextAt) {
		// Backing off: report now rather than hammer the broker.
		err := s.staleErrLocked()
		s.mu.Unlock()
		return nil, err
	}
	ch := s.changed
	select {
	case s.kick <- struct{}{}:
	default:
	}
	s.mu.Unlock()

	select {
	case <-ch:
	case <-s.stop:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("ztbroker token for purpose %q: %w", s.purpose, ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if tok := s.freshLocked(s.clock.Now()); tok != nil {
		return tok, nil
	}
	return nil, s.staleErrLocked()
}

// freshLocked is cur when it may be handed out at now.
func (s *TokenSource) freshLocked(now time.Time) *Token {
	if s.cur == nil || s.rejected || !now.Before(s.freshUntil(s.cur)) {
		return nil
	}
	return s.cur
}

// freshUntil is when tok stops being good enough to hand out.
func (s *TokenSource) freshUntil(tok *Token) time.Time {
	life := tok.Expiry().Sub(s.obtained)
	return tok.Expiry().Add(-min(s.opts.minValidity, life/4))
}

func (s *TokenSource) staleErrLocked() error {
	if s.lastErr == nil {
		return fmt.Errorf("ztbroker token for purpose %q: no token valid long enough", s.purpose)
	}
	return fmt.Errorf("ztbroker token for purpose %q: no valid token: %w", s.purpose, s.lastErr)
}

// Changed returns a channel that is closed when the source's next refresh
// attempt has finished, whether it succeeded or not. A caller that keeps
// copies of the token (a file, a child process) waits on it and then asks
// Token again.
func (s *TokenSource) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// reject tells the source that the API refused tok. Unless tok is already
// replaced, or too new to be judged dead, the source drops it and the next
// Token waits for a new lease. ok is false when tok stays the current
// token.
func (s *TokenSource) reject(tok *Token) (ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.cur != tok {
		return true
	}
	if s.clock.Now().Sub(s.obtained) < rejectGrace {
		return false
	}
	s.log.Warn("the API refused the token; replacing its lease", "lease_id", tok.Lease.ID)
	s.rejected = true
	s.fresh.Store(nil)
	// Act now, not when the backoff of an earlier failure ends.
	s.lastErr, s.nextAt = nil, time.Time{}
	return true
}

// Close stops the source and revokes the leases it holds. A Token call
// after Close returns ErrClosed. Close waits for a refresh in progress to
// end, and bounds the revocation by the client's timeout.
func (s *TokenSource) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.fresh.Store(nil)
	close(s.stop)
	started := s.started
	s.mu.Unlock()
	if started {
		<-s.done
	}
	s.c.forget(s)

	s.mu.Lock()
	ids := s.retiring
	if s.cur != nil {
		ids = append(ids, s.cur.Lease.ID)
	}
	s.cur, s.retiring = nil, nil
	if s.pendingKey != "" {
		s.log.Warn("closing with an issue whose answer was lost; if the broker issued that lease, it lasts until it expires")
	}
	s.mu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := s.revoke(id, "token source closed"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *TokenSource) revoke(id, reason string, opts ...grpc.CallOption) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.c.timeout)
	defer cancel()
	_, err := s.c.broker.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: reason}, opts...)
	if err != nil && status.Code(err) != codes.NotFound {
		s.log.Warn("revoke failed", "lease_id", id, "err", err)
		return err
	}
	s.log.Debug("revoked", "lease_id", id, "reason", reason)
	return nil
}

func (c *Client) forget(s *TokenSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.sources {
		if x == s {
			c.sources = append(c.sources[:i], c.sources[i+1:]...)
			return
		}
	}
}
