package newcentral

import (
	"context"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Client mints API keys on one New Central service account.
type Client struct {
	api *API
	sa  string
}

var _ upstream.Issuer = (*Client)(nil)

// New validates cfg and returns a client with an API of its own.
func New(cfg Config) (*Client, error) {
	if err := cfg.complete(true); err != nil {
		return nil, err
	}
	api, err := NewAPI(cfg)
	if err != nil {
		return nil, err
	}
	return api.Issuer(cfg.ServiceAccountID), nil
}

// Issuer returns the client for service account sa on this API.
func (a *API) Issuer(sa string) *Client { return &Client{api: a, sa: sa} }

// API is the client's API, shared with the upstream's other accounts.
func (c *Client) API() *API { return c.api }

func (c *Client) Upstream() string   { return c.api.cfg.Name }
func (c *Client) Kind() string       { return lease.UpstreamNewCentral }
func (c *Client) Account() string    { return c.sa }
func (c *Client) APIBaseURL() string { return c.api.BaseURL() }
func (c *Client) AuthScheme() string { return "Bearer" }

// Mint creates a key whose description is name and which expires upstream
// at expires (on the broker's clock).
func (c *Client) Mint(ctx context.Context, name string, expires time.Time) (*upstream.Minted, error) {
	k, err := c.api.CreateKey(ctx, "mint", c.sa, name, expires)
	if err != nil {
		return nil, err
	}
	return &upstream.Minted{ID: k.ID, Secret: k.Secret, Expires: k.Expires}, nil
}

// Delete revokes key id: see API.DeleteKey. The admin credential's own key
// and any key a rotation has in flight are refused.
func (c *Client) Delete(ctx context.Context, id string) error {
	if c.api.cred.IsProtected(id) {
		return upstream.ErrProtected
	}
	return c.api.DeleteKey(ctx, "delete", c.sa, id)
}

// List returns the service account's keys, with the description as Name.
func (c *Client) List(ctx context.Context) ([]upstream.Token, error) {
	var out []upstream.Token
	err := c.api.ServiceAccountKeys(ctx, "list", c.sa, func(k Key) error {
		out = append(out, upstream.Token{
			ID: k.ID, Name: k.Description, Expires: k.Expires, Created: k.Created, LastUsed: k.LastUsed,
			Protected: c.api.cred.IsProtected(k.ID),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
