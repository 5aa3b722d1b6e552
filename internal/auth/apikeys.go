package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// APIKeys authenticates static bearer keys. It holds only the SHA-256 of
// each key: a presented bearer is hashed and looked up, so no secret is in
// memory and no byte-by-byte comparison exists to time.
type APIKeys struct {
	byHash map[[sha256.Size]byte]string
	admins map[string]bool
}

var _ Authenticator = (*APIKeys)(nil)

// NewAPIKeys builds an authenticator from key name → lowercase or
// uppercase hex SHA-256 of the key. admins lists owners ("api_key:<name>")
// that get the Admin flag.
func NewAPIKeys(keys map[string]string, admins []string) (*APIKeys, error) {
	a := &APIKeys{
		byHash: make(map[[sha256.Size]byte]string, len(keys)),
		admins: ownerSet(admins),
	}
	for name, h := range keys {
		if name == "" {
			return nil, fmt.Errorf("api key with empty name: %w", errs.InvalidArgument)
		}
		sum, err := decodeSHA256(h)
		if err != nil {
			return nil, fmt.Errorf("api key %q: %w", name, err)
		}
		if other, dup := a.byHash[sum]; dup {
			return nil, fmt.Errorf("api keys %q and %q have the same hash: %w", other, name, errs.InvalidArgument)
		}
		a.byHash[sum] = name
	}
	return a, nil
}

func decodeSHA256(h string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return sum, fmt.Errorf("sha256 must be %d hex characters: %w", 2*sha256.Size, errs.InvalidArgument)
	}
	copy(sum[:], b)
	return sum, nil
}

// Authenticate looks the bearer up by its hash. A bearer shaped like a JWT
// that is not a known key is left to the OIDC authenticator.
func (a *APIKeys) Authenticate(_ context.Context, c Credentials) (*Identity, error) {
	if c.Bearer == "" {
		return nil, ErrNoCredentials
	}
	name, ok := a.byHash[sha256.Sum256([]byte(c.Bearer))]
	if !ok {
		if LooksLikeJWT(c.Bearer) {
			return nil, ErrNoCredentials
		}
		return nil, fmt.Errorf("unknown api key: %w", errs.Unauthenticated)
	}
	id := &Identity{Kind: KindAPIKey, Subject: name}
	id.Admin = a.admins[id.Principal()]
	return id, nil
}

// LooksLikeJWT reports whether s has the compact JWS shape: three
// base64url segments, the first a JSON object ("eyJ" is base64 for `{"`).
func LooksLikeJWT(s string) bool {
	if !strings.HasPrefix(s, "eyJ") || strings.Count(s, ".") != 2 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

func ownerSet(owners []string) map[string]bool {
	m := make(map[string]bool, len(owners))
	for _, o := range owners {
		m[o] = true
	}
	return m
}
