package upstream

import (
	"context"
	"time"
)

// Minted is a freshly created upstream token. Secret is shown once; the
// caller hashes it and hands it to the requester, and keeps nothing else.
type Minted struct {
	// ID is the New Central key id or the Legacy token name.
	ID     string
	Secret string
	// Expires is the upstream's own expiry, zero when it has none.
	Expires time.Time
}

// Token is an existing upstream token as listing shows it.
type Token struct {
	ID string
	// Name is the Legacy token name or the New Central key description.
	Name    string
	Expires time.Time
	// Created and LastUsed are zero where the API does not say (Legacy
	// says neither).
	Created  time.Time
	LastUsed time.Time
	// Protected marks the broker's own admin credential (or a key its
	// rotation has in flight): never an orphan, never foreign, and Delete
	// refuses it.
	Protected bool
}

// Issuer mints and deletes tokens on one upstream account: a New Central
// service account or a Legacy user.
type Issuer interface {
	// Mint creates a token named name. expires is honoured upstream where
	// the API supports it (New Central) and ignored otherwise (Legacy).
	Mint(ctx context.Context, name string, expires time.Time) (*Minted, error)
	// Delete removes the token. It returns nil only when the upstream
	// answered its documented success or a fresh listing confirms the token
	// is gone; anything else (a 404 alone, an undocumented 2xx body) is an
	// error. It refuses, with ErrProtected, to delete the admin credential.
	Delete(ctx context.Context, id string) error
	// List returns every token on the account.
	List(ctx context.Context) ([]Token, error)

	// Upstream is the configured name of the upstream the account is on,
	// which leases record.
	Upstream() string
	// Kind is lease.UpstreamNewCentral or lease.UpstreamLegacy.
	Kind() string
	// Account is the service account id or the Legacy user id.
	Account() string
	// APIBaseURL is where a caller should use a minted token.
	APIBaseURL() string
	// AuthScheme is the Authorization scheme the API wants for a minted
	// token: "Bearer" or "token".
	AuthScheme() string
}

// Principal is an identity upstream that can hold credentials: a New
// Central service account.
type Principal struct {
	ID   string
	Name string
	// Created is zero when the API does not say.
	Created time.Time
}
