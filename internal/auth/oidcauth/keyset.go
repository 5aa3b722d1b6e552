package oidcauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// keySet is one issuer's JWKS with rate-limited refresh. It replaces
// go-oidc's RemoteKeySet, which refetches on every unknown key id with no
// lower bound on the interval.
type keySet struct {
	url      string
	client   *http.Client
	algs     []jose.SignatureAlgorithm
	now      func() time.Time
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger

	// keys is read without locking, so verifications run in parallel.
	keys atomic.Pointer[[]jose.JSONWebKey]
	// fetchMu is held across a fetch, so concurrent misses wait for one
	// fetch and then see its keys instead of each starting another.
	fetchMu   sync.Mutex
	lastFetch time.Time
	fetched   bool
}

func (k *keySet) current() []jose.JSONWebKey {
	if p := k.keys.Load(); p != nil {
		return *p
	}
	return nil
}

var _ oidc.KeySet = (*keySet)(nil)

// errSlot carries the key set's own error past go-oidc, which flattens
// it to text and so would lose whether it was ErrUnavailable.
type errSlot struct{ err error }

type errSlotKey struct{}

func withErrSlot(ctx context.Context) (context.Context, *errSlot) {
	s := &errSlot{}
	return context.WithValue(ctx, errSlotKey{}, s), s
}

// VerifySignature implements oidc.KeySet: it returns the payload if some
// key of the issuer verifies the token.
func (k *keySet) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	payload, err := k.verify(ctx, token)
	if s, ok := ctx.Value(errSlotKey{}).(*errSlot); ok {
		s.err = err
	}
	return payload, err
}

func (k *keySet) verify(ctx context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, k.algs)
	if err != nil {
		return nil, fmt.Errorf("parsing token: %w", errs.Unauthenticated)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("token has %d signatures: %w", len(jws.Signatures), errs.Unauthenticated)
	}
	kid := jws.Signatures[0].Header.KeyID

	if payload, known, ok := verifyWith(jws, k.current(), kid); ok {
		return payload, nil
	} else if known {
		// The key id is one we hold and it did not verify: a forgery or
		// corruption, which fresh keys would not fix.
		return nil, fmt.Errorf("signature does not verify: %w", errs.Unauthenticated)
	}
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	// Another caller may have fetched while this one waited for the lock.
	if payload, known, ok := verifyWith(jws, k.current(), kid); ok {
		return payload, nil
	} else if known {
		return nil, fmt.Errorf("signature does not verify: %w", errs.Unauthenticated)
	}
	if err := k.refreshLocked(ctx); err != nil {
		return nil, err
	}
	if payload, _, ok := verifyWith(jws, k.current(), kid); ok {
		return payload, nil
	}
	return nil, fmt.Errorf("no issuer key %q verifies the token: %w", kid, errs.Unauthenticated)
}

// verifyWith tries the keys with the token's kid (all keys when it has
// none). known reports whether a key with that kid exists.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) (payload []byte, known, ok bool) {
	for i := range keys {
		key := &keys[i]
		if kid != "" && key.KeyID != kid {
			continue
		}
		known = kid != ""
		if key.Algorithm != "" && key.Algorithm != jws.Signatures[0].Header.Algorithm {
			continue
		}
		if p, err := jws.Verify(key); err == nil {
			return p, known, true
		}
	}
	return nil, known, false
}

// refreshLocked, called with fetchMu held, fetches the keys unless the last fetch was too recent.
// Without any keys yet, failure means the issuer is unreachable, not that
// the caller is wrong.
func (k *keySet) refreshLocked(ctx context.Context) error {
	now := k.now()
	if k.fetched && now.Sub(k.lastFetch) < k.interval {
		return fmt.Errorf("unknown key id and keys were refreshed %s ago: %w", now.Sub(k.lastFetch).Round(time.Second), errs.Unauthenticated)
	}
	k.lastFetch, k.fetched = now, true
	// The fetch outlives a caller who gives up: its result serves
	// everyone queued behind the lock.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
	defer cancel()
	var set jose.JSONWebKeySet
	if err := getJSON(fctx, k.client, k.url, &set); err != nil {
		k.log.WarnContext(ctx, "fetching issuer keys failed", "url", k.url, "error", err)
		if len(k.current()) == 0 {
			return fmt.Errorf("fetching issuer keys: %v: %w", err, errs.Unavailable)
		}
		return fmt.Errorf("unknown key id and key refresh failed: %w", errs.Unauthenticated)
	}
	keys := usableKeys(set.Keys)
	if len(keys) == 0 {
		return fmt.Errorf("issuer publishes no usable signing keys: %w", errs.Unavailable)
	}
	k.keys.Store(&keys)
	k.log.InfoContext(ctx, "fetched issuer keys", "url", k.url, "keys", len(keys))
	return nil
}

// minRSABits refuses keys short enough to factor.
const minRSABits = 2048

// usableKeys keeps public asymmetric signing keys. A symmetric key in a
// JWKS would be a shared secret, and a private key a publishing mistake;
// neither is trusted.
func usableKeys(in []jose.JSONWebKey) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range in {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() >= minRSABits {
				out = append(out, k)
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
			out = append(out, k)
		}
	}
	return out
}
